// The two benchmark corpora, built deterministically from files the install
// already has (no download): prose paragraphs from the README.md files of the
// installed npm packages, and MCP JSON-RPC messages (tools/list results,
// tools/call requests and results) generated with a fixed seed.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const TARGET_BYTES = 1 << 20;

/**
 * Paragraphs of running text (no code, tables or headings), about 1 MB.
 * @param {string} root
 */
export function proseMessages(root) {
  const modules = join(root, 'node_modules');
  const dirs = readdirSync(modules).sort().flatMap((d) =>
    d.startsWith('@') ? readdirSync(join(modules, d)).sort().map((s) => join(modules, d, s)) : [join(modules, d)]);
  const out = [];
  let bytes = 0;
  for (const dir of dirs) {
    const readme = join(dir, 'README.md');
    if (!existsSync(readme)) continue;
    const text = readFileSync(readme, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const para of text.split(/\n\s*\n/)) {
      const p = para.trim();
      if (p.length < 200 || /^[#|<>!\[-]/.test(p) || (p.match(/[a-z]/gi)?.length ?? 0) < p.length * 0.7) continue;
      out.push(p);
      bytes += Buffer.byteLength(p);
      if (bytes >= TARGET_BYTES) return out;
    }
  }
  return out;
}

/**
 * xorshift32: a tiny seeded PRNG of floats in [0, 1).
 * @param {number} seed
 */
function rng(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

/**
 * MCP JSON-RPC messages, about 1 MB; `words` supplies realistic strings.
 * @param {string[]} words
 */
export function mcpMessages(words) {
  const r = rng(42);
  const pick = (/** @type {string[]} */ xs) => xs[Math.floor(r() * xs.length)] ?? '';
  const phrase = (/** @type {number} */ n) => Array.from({ length: n }, () => pick(words)).join(' ');
  const out = [];
  let bytes = 0;
  for (let id = 1; bytes < TARGET_BYTES; id++) {
    const kind = id % 3;
    let msg;
    if (kind === 0) {
      const tools = Array.from({ length: 1 + Math.floor(r() * 6) }, (_, i) => ({
        name: `${pick(words).toLowerCase().replace(/\W/g, '')}.${pick(['search', 'run', 'query', 'read', 'write'])}${i}`,
        description: phrase(8 + Math.floor(r() * 20)),
        inputSchema: { type: 'object', properties: { query: { type: 'string', description: phrase(6) }, limit: { type: 'integer', minimum: 1, maximum: 100 } }, required: ['query'] },
      }));
      msg = { jsonrpc: '2.0', id, result: { tools } };
    } else if (kind === 1) {
      msg = { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'file.search', arguments: { query: phrase(4), limit: 1 + Math.floor(r() * 50), path: `/home/pi/data/${Math.floor(r() * 1e6)}.json` } } };
    } else {
      const text = phrase(20 + Math.floor(r() * 200));
      msg = { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }], structuredContent: { matches: Math.floor(r() * 1000), elapsedMs: Number((r() * 100).toFixed(3)) }, isError: false } };
    }
    const s = r() < 0.5 ? JSON.stringify(msg) : JSON.stringify(msg, null, 2);
    out.push(s);
    bytes += Buffer.byteLength(s);
  }
  return out;
}
