// Runs in real Chromium (test/codec-browser.test.ts serves it): the npm API's
// core facade, loaded from host/dist the way a browser app loads it, packs and
// unpacks through the direct lane and a dictionary, and posts what it saw.
// (test/tsconfig.json maps /host/dist/ to host/src/ for the type-check.)
import { CoreError, loadCore } from '/host/dist/core/index.js';

/**
 * What the page saw, posted to the test.
 * @typedef {object} Report
 * @property {string} lane
 * @property {readonly string[]} features
 * @property {Record<string, boolean>} roundTrips
 * @property {boolean} pooled
 * @property {boolean} [afterTransfer]
 * @property {{ lane?: string; roundTrip?: boolean; smaller?: boolean; withoutIt?: string }} dictionary
 */

const encoder = new TextEncoder();
const message = (/** @type {number} */ i) =>
  encoder.encode(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: `tool_${i % 5}`, arguments: { path: `/data/${i}`, n: i * 7 } } }));
/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function run() {
  const core = await loadCore({ compile: (file) => WebAssembly.compileStreaming(fetch(`/host/dist/core/generated/${file}`)) });
  /** @type {Report} */
  const report = { lane: core.codecLane, features: core.features, roundTrips: {}, pooled: false, dictionary: {} };
  const data = message(1);
  for (const algorithm of /** @type {const} */ (['stored', 'zstd', 'lz4'])) {
    const frame = core.codec.pack(data, { algorithm });
    report.roundTrips[algorithm] = same(core.codec.unpack(frame, 1 << 20), data);
  }
  // Two small outputs come from one slab; transferring it away must not break the next call.
  const a = core.codec.unpack(core.codec.pack(data, { algorithm: 'zstd' }), 1 << 20);
  const b = core.codec.unpack(core.codec.pack(data, { algorithm: 'lz4' }), 1 << 20);
  report.pooled = a.buffer === b.buffer && b.byteOffset > 0;
  structuredClone(a.buffer, { transfer: [a.buffer] });
  report.afterTransfer = same(core.codec.unpack(core.codec.pack(data, { algorithm: 'zstd' }), 1 << 20), data);

  const samples = Array.from({ length: 200 }, (_, i) => message(i));
  const dict = core.codec.trainDictionary(samples, 4096);
  const frame = dict.pack(message(500), 3);
  report.dictionary = {
    lane: dict.lane,
    roundTrip: same(dict.unpack(frame, 1 << 20), message(500)),
    smaller: frame.length < core.codec.pack(message(500), { algorithm: 'zstd', level: 3 }).length,
  };
  try {
    core.codec.unpack(frame, 1 << 20);
    report.dictionary.withoutIt = 'ok';
  } catch (err) {
    report.dictionary.withoutIt = err instanceof CoreError ? err.code : String(err);
  }
  return report;
}

run()
  .then((report) => fetch('/result', { method: 'POST', body: JSON.stringify(report) }))
  .catch((err) => fetch('/result', { method: 'POST', body: JSON.stringify({ error: String(err?.stack ?? err) }) }));
