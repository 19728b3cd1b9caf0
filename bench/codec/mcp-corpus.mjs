// Deterministic MCP traffic: JSON-RPC requests, results, notifications and
// errors of the shapes an edge gateway queues (tools/list, tools/call with
// sensor and file tools, progress notifications). Seeded: the same seed gives
// the same bytes on every machine, so the 20 MB bench corpus is regenerated
// instead of committed, and test/corpus/codec/ records the seeds it used.

/** @typedef {() => number} Random  A generator of floats in [0, 1). */

/**
 * mulberry32: a tiny seeded PRNG; quality is plenty for synthetic traffic.
 * @param {number} seed
 * @returns {Random}
 */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOOLS = ['read_sensor', 'list_files', 'read_file', 'write_file', 'query_db', 'camera_snapshot', 'set_gpio', 'http_get'];
const SENSORS = ['temp', 'humidity', 'pressure', 'lux', 'co2', 'voltage'];
const WORDS = ('edge gateway sensor reading device queue sync offline tool result value status ok ' +
  'error retry node mesh peer cloud local model prompt token cache file path line data').split(' ');

/**
 * @param {Random} next
 * @param {readonly string[]} list
 * @returns {string}
 */
function pick(next, list) {
  return list[Math.floor(next() * list.length)] ?? '';
}

/**
 * @param {Random} next
 * @param {number} n
 */
function words(next, n) {
  return Array.from({ length: n }, () => pick(next, WORDS)).join(' ');
}

/**
 * @param {Random} next
 * @param {number} id
 */
function request(next, id) {
  const name = pick(next, TOOLS);
  const args = name === 'read_sensor'
    ? { sensor: `${pick(next, SENSORS)}-${Math.floor(next() * 16)}`, unit: 'si', window_s: Math.floor(next() * 600) }
    : { path: `/var/lib/edge/${words(next, 2).replace(' ', '/')}.json`, limit: Math.floor(next() * 100) };
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: { progressToken: `p-${id}` } } };
}

/**
 * @param {Random} next
 * @param {number} id
 * @param {number} targetBytes
 */
function result(next, id, targetBytes) {
  const rows = [];
  let size = 0;
  while (size < targetBytes) {
    const row = {
      ts: 1763700000000 + Math.floor(next() * 1e7),
      sensor: `${pick(next, SENSORS)}-${Math.floor(next() * 16)}`,
      value: Math.round(next() * 100000) / 100,
      note: words(next, 1 + Math.floor(next() * 6)),
    };
    rows.push(row);
    size += JSON.stringify(row).length + 1;
  }
  const text = JSON.stringify(rows);
  return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }], structuredContent: { rows: rows.length }, isError: false } };
}

/** @param {Random} next */
function notification(next) {
  return { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: `p-${Math.floor(next() * 1e4)}`, progress: Math.floor(next() * 100), total: 100, message: words(next, 4) } };
}

/**
 * @param {Random} next
 * @param {number} id
 */
function failure(next, id) {
  return { jsonrpc: '2.0', id, error: { code: -32603, message: `tool failed: ${words(next, 5)}`, data: { retryAfterMs: Math.floor(next() * 5000) } } };
}

/**
 * One MCP message of roughly `targetBytes` (results grow to the target; others are small).
 * @param {Random} next
 * @param {number} id
 */
export function message(next, id, targetBytes = 1024) {
  const roll = next();
  const msg = roll < 0.15 ? request(next, id) : roll < 0.22 ? notification(next) : roll < 0.25 ? failure(next, id) : result(next, id, targetBytes * (0.6 + next() * 0.8));
  return new TextEncoder().encode(JSON.stringify(msg));
}

/**
 * `count` messages of about `targetBytes` each, from `seed`.
 * @param {number} seed
 * @param {number} count
 * @param {number} targetBytes
 */
export function messages(seed, count, targetBytes) {
  const next = rng(seed);
  return Array.from({ length: count }, (_, i) => message(next, i + 1, targetBytes));
}

/**
 * Messages of exactly `size` bytes: MCP results padded/cut to size (for fixed-size benches).
 * @param {number} seed
 * @param {number} count
 * @param {number} size
 */
export function fixedSize(seed, count, size) {
  const next = rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const bytes = new TextEncoder().encode(JSON.stringify(result(next, i + 1, size)));
    const out = new Uint8Array(size);
    out.set(bytes.subarray(0, size));
    return out;
  });
}

/**
 * A newline-delimited stream of MCP traffic of at least `totalBytes` (0.5-4 KB messages, some 64 KB).
 * @param {number} seed
 * @param {number} totalBytes
 */
export function traffic(seed, totalBytes) {
  const next = rng(seed);
  /** @type {Uint8Array[]} */
  const chunks = [];
  let size = 0;
  for (let id = 1; size < totalBytes; id++) {
    const target = next() < 0.02 ? 65536 : 512 + Math.floor(next() * 3584);
    const msg = message(next, id, target);
    chunks.push(msg, new Uint8Array([10]));
    size += msg.length + 1;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
