// Sync throughput to a local destination: N calls queued while the
// destination (a real mcp-edge process) is down, then the link comes up and
// "sync now" drains them over Streamable HTTP. Window 1 keeps strict order;
// a wider window keeps more calls in flight. Baseline in the same run: one
// client calling the same tool N times in a row, no queue.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadCore, openDatabase, OfflineQueue } from '../../host/dist/index.js';
import { mcpHttpDeliverer } from '../../host/dist/queue/mcp-deliverer.js';

const N = Number(process.env.N ?? 1000);
const WINDOWS = (process.env.WINDOWS ?? '1,16').split(',').map(Number);
const DESTINATION = fileURLToPath(new URL('../../test/fixtures/queue/destination.mjs', import.meta.url));
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const children = new Set();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** @returns {Promise<number>} */
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });

/**
 * @param {string} dir
 * @param {number} port
 * @returns {Promise<import('node:child_process').ChildProcess>}
 */
function startDestination(dir, port) {
  const child = spawn(process.execPath, [DESTINATION, dir, String(port), '0', 'rerun', process.env.EFFECTS ?? 'memory'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return new Promise((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (c) => c.includes('READY') && resolve(child));
  });
}

/**
 * @param {number} window
 * @param {import('../../host/dist/index.js').EdgeCore} core
 */
async function drain(window, core) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mcp`;
  const dir = mkdtempSync(join(tmpdir(), 'bench-sync-'));
  const db = openDatabase(join(dir, 'sender'));
  const deliverer = mcpHttpDeliverer({ dest: url }, 30_000);
  const q = await OfflineQueue.open(db, core, {
    destinations: { dest: { maxItems: 10_000_000, maxBytes: 2 ** 40, ttlMs: 0 } },
    deliver: deliverer.deliver,
    ...(process.env.BATCH === '1' ? { deliverMany: deliverer.deliverMany } : {}),
    backoff: { baseMs: 3_600_000, maxMs: 3_600_000, jitterPercent: 0 },
    batchItems: 256,
    window,
    tickMs: 3_600_000,
    log: silent,
  });
  await q.ready;
  await Promise.all(Array.from({ length: N }, (_, n) => q.enqueue({ destination: 'dest', tool: 'record', arguments: { n } })));
  await q.deliverNow(); // link down: one failed attempt
  const dest = await startDestination(join(dir, 'dest'), port);
  const t0 = performance.now();
  const report = await q.deliverNow();
  const secs = (performance.now() - t0) / 1000;
  if (report.delivered !== N) throw new Error(`delivered ${report.delivered} of ${N}`);
  await q.close();
  await deliverer.close();
  db.close();
  dest.kill('SIGTERM');
  await new Promise((r) => dest.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return N / secs;
}

async function baseline() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sync0-'));
  const port = await freePort();
  const dest = await startDestination(dir, port);
  const c = new Client({ name: 'bench', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  const t0 = performance.now();
  for (let n = 0; n < N; n++) await c.callTool({ name: 'record', arguments: { n } });
  const secs = (performance.now() - t0) / 1000;
  await c.close();
  dest.kill('SIGTERM');
  await new Promise((r) => dest.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return N / secs;
}

const core = await loadCore();
const base = await baseline();
/** @type {Record<string, string | number>} */
const out = { bench: 'queue-sync', calls: N, baseline_sequential_calls_per_second: Math.round(base) };
for (const w of WINDOWS) {
  const rate = await drain(w, core);
  out[`delivered_per_second_window_${w}`] = Math.round(rate);
  out[`ratio_window_${w}_vs_baseline`] = Number((rate / base).toFixed(3));
}
console.log(JSON.stringify(out));
