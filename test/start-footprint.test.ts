// What an idle `mcp-edge serve` on its defaults has not loaded: each of these
// was resident memory of every start for a feature the defaults do not use, or
// not yet (bench/startup/README.md, "Idle footprint"). Read from Node's own list
// of the built-in modules the process loaded and from a module load hook's list
// of the files it loaded, both written when the gateway exits.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startServeCli, tempDir, waitForExit } from './helpers/processes.js';

interface Loaded {
  /** Built-in modules (`NativeModule x`). */
  builtins: string[];
  /** Files loaded as modules (the bundle's chunks, or tsc's build and node_modules unbundled). */
  files: string[];
}

const PRELOAD = (out: string) => `
const { registerHooks } = require('node:module');
const files = [];
registerHooks({ load(url, context, next) { if (url.startsWith('file:')) files.push(url); return next(url, context); } });
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ builtins: process.moduleLoadList, files })));
`;

/** What a plain `mcp-edge serve` loaded from start to exit, with /health answered (and `touch` run before it exits). */
async function loadedByAStart(touch: (url: string) => Promise<void> = async () => undefined): Promise<Loaded> {
  const dir = tempDir('footprint-');
  const out = join(dir, 'loaded.json');
  const preload = join(dir, 'preload.cjs');
  writeFileSync(preload, PRELOAD(out));
  const { child, url } = await startServeCli([], { NODE_OPTIONS: `--require ${preload}` });
  const health = await fetch(new URL('/health', url));
  expect(health.status).toBe(200);
  await touch(url);
  child.kill('SIGTERM');
  await waitForExit(child);
  const loaded = JSON.parse(readFileSync(out, 'utf8')) as { builtins: string[]; files: string[] };
  return {
    builtins: loaded.builtins.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)),
    files: loaded.files.map((f) => fileURLToPath(f)),
  };
}

/**
 * Loaded files holding the MCP SDK's types.js (its zod schemas) or its Server,
 * whether bundled into a chunk or from node_modules: found by a line of each
 * that survives bundling.
 */
function sdkFilesOf(files: string[]): string[] {
  const marks = [/\bCallToolRequestSchema = RequestSchema\.extend\(/, /\b(class Server extends Protocol|Server = class extends Protocol)\b/];
  return files.filter((f) => /\.[cm]?js$/.test(f) && marks.some((m) => m.test(readFileSync(f, 'utf8'))));
}

/** An MCP initialize over Streamable HTTP, the first request of a session. */
async function initialize(url: string): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'footprint', version: '1' } } }),
  });
  expect(res.status).toBe(200);
  await res.text();
}

describe('an idle gateway on its defaults', () => {
  it('has not loaded TLS: no HTTPS listener, no upstream with TLS settings of its own', async () => {
    const { builtins } = await loadedByAStart();
    expect(builtins).toContain('http');
    expect(builtins.filter((m) => /^(tls|https|_tls_wrap|_tls_common)$/.test(m))).toEqual([]);
  });

  it("has loaded node:crypto but not its WebCrypto, nor node:http's WebSocket (Node's undici): no builtin came in through its ES module facade", async () => {
    const { builtins } = await loadedByAStart();
    expect(builtins).toContain('crypto');
    expect(builtins.filter((m) => /^internal\/crypto\/webcrypto$|^internal\/deps\/undici\//.test(m))).toEqual([]);
  });

  it("has not loaded the MCP SDK's schemas (types.js) nor its Server: the first MCP request loads them", async () => {
    const idle = await loadedByAStart();
    expect(idle.files.some((f) => /[\\/]host[\\/]dist[\\/]/.test(f))).toBe(true);
    expect(sdkFilesOf(idle.files)).toEqual([]);
    // The same check finds them once a client has initialized a session: it can fail.
    const serving = await loadedByAStart(initialize);
    expect(sdkFilesOf(serving.files).length).toBeGreaterThan(0);
  });
});
