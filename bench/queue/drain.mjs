// Draining a backlog, and start-up with a deep queue.
//
// Drain: N calls (default 100,000) sit in a sender gateway's queue (written
// straight into SQLite, as bench/queue/memory.mjs does, with the columns and
// codec frame the queue writes) for a destination mcp-edge over Streamable
// HTTP (test/fixtures/queue/destination.mjs, its tool's effect kept in memory
// so the disk's fsync rate does not cap it). The sender starts (a real
// gateway process, bench/queue/gateway.mjs) and drains; the rate is N over
// the time from its READY to an empty queue. Three runs in the same bench:
// delivery_window = 1 (one call per request, strict order, the old default:
// the baseline), a window of WINDOW with one call per request (batch =
// false), and the same window with JSON-RPC batches (the default).
// Meanwhile LIVE clients call the sender's local `ping` tool in a loop: p99
// during the drain, and p99 of as many calls once the queue is empty (same
// gateway, no drain). The destination's `effects` tool then says every call
// ran exactly once.
//
// Start-up: spawn to READY of the same gateway with an empty queue and with
// STARTUP_N queued rows (default 1,000,000), median of 3; and, for the deep
// queue, how long after READY its rows were all loaded (they load in the
// background: GET /v1/queue/status says "loading" until then).
//
//   node bench/queue/drain.mjs                 N=100000 WINDOW=64 LIVE=2 STARTUP_N=1000000
//   N=0 node bench/queue/drain.mjs             start-up only
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const N = Number(process.env.N ?? 100_000);
const WINDOW = Number(process.env.WINDOW ?? 64);
const LIVE = Number(process.env.LIVE ?? 2);
const STARTUP_N = Number(process.env.STARTUP_N ?? 1_000_000);
const DESTINATION = fileURLToPath(new URL('../../test/fixtures/queue/destination.mjs', import.meta.url));
const GATEWAY = fileURLToPath(new URL('gateway.mjs', import.meta.url));
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
 * Starts a child that prints "READY <url>"; resolves with it, its url and the ms it took.
 * @param {string[]} args
 */
function start(args) {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return /** @type {Promise<{ child: import('node:child_process').ChildProcess, url: string, ms: number }>} */ (
    new Promise((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c) => {
        out += c;
        const m = out.match(/READY (\S+)/);
        if (m?.[1]) resolve({ child, url: m[1], ms: performance.now() - t0 });
      });
      child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code} before READY`)));
    })
  );
}

/** @param {import('node:child_process').ChildProcess} child */
async function stop(child) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  children.delete(child);
}

/**
 * Writes n queued calls for destination "dest" straight into a sender's database.
 * @param {string} dir
 * @param {number} n
 */
async function fill(dir, n) {
  const { loadCore, openDatabase } = await import('../../host/dist/index.js');
  const core = await loadCore();
  const db = openDatabase(dir);
  const ins = db.prepare(`INSERT INTO deferred (id, state, destination, tool, priority, idem_key, client_key, secret, payload, bytes, created_ms, expires_ms, updated_ms)
                          VALUES (?, 'queued', 'dest', 'record', 1, ?, 1, 'bench', ?, ?, ?, NULL, ?)`);
  const now = Date.now();
  for (let i = 1; i <= n; i += 10_000) {
    db.transaction(() => {
      for (let k = i; k < Math.min(n + 1, i + 10_000); k++) {
        const frame = core.codec.pack(new TextEncoder().encode(JSON.stringify({ arguments: { n: k } })), { algorithm: 'stored' });
        ins.run(k, `key-${k}`, frame, frame.length, now, now);
      }
    })();
  }
  db.close();
}

/** @param {string} url */
async function connect(url) {
  const c = new Client({ name: 'bench-live', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
}

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const v = s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return v === undefined ? null : Number(v.toFixed(2));
};

/** @param {string} url */
async function depthOf(url) {
  const res = await fetch(new URL('/v1/queue/status', url));
  return /** @type {{ depth: number }} */ (await res.json()).depth;
}

/**
 * One drain: returns calls/s, live p50/p99 during and after, and the destination's effect counts.
 * @param {number} window
 * @param {boolean} batch
 */
async function drain(window, batch) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-drain-'));
  const port = await freePort();
  const dest = await start([DESTINATION, join(dir, 'dest'), String(port), '0', 'rerun', 'memory']);
  await fill(join(dir, 'sender'), N);
  const sender = await start([GATEWAY, join(dir, 'sender'), dest.url, String(window), String(batch)]);
  const t0 = performance.now();
  const clients = await Promise.all(Array.from({ length: LIVE }, () => connect(sender.url)));
  /** @type {number[]} */
  const during = [];
  /** @type {number[]} */
  const after = [];
  let phase = /** @type {'during' | 'after' | 'done'} */ ('during');
  const live = clients.map(async (c) => {
    while (phase !== 'done') {
      const s = performance.now();
      await c.callTool({ name: 'ping', arguments: {} });
      const ms = performance.now() - s;
      if (phase === 'during') during.push(ms);
      else if (phase === 'after') after.push(ms);
      if (phase === 'after' && after.length >= Math.max(during.length, 2000)) phase = 'done';
    }
  });
  for (let i = 0; ; i++) {
    if (i > 100_000) throw new Error('the queue did not drain');
    if ((await depthOf(sender.url)) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const secs = (performance.now() - t0) / 1000;
  phase = 'after';
  await Promise.all(live);
  await Promise.all(clients.map((c) => c.close()));
  const check = await connect(dest.url);
  const effects = JSON.parse(/** @type {{ text: string }[]} */ ((await check.callTool({ name: 'effects', arguments: {} })).content)[0]?.text ?? '{}');
  await check.close();
  await stop(sender.child);
  await stop(dest.child);
  rmSync(dir, { recursive: true, force: true });
  if (effects.distinct !== N || effects.repeated !== 0) throw new Error(`window ${window}: ${effects.distinct} of ${N} calls ran, ${effects.repeated} more than once`);
  return { rate: N / secs, during, after };
}

/**
 * Spawn to READY and to all rows loaded, medians of 3, with `rows` queued calls.
 * @param {number} rows
 */
async function startup(rows) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-start-'));
  if (rows > 0) await fill(join(dir, 'sender'), rows);
  /** @type {number[]} */
  const ready = [];
  /** @type {number[]} */
  const loaded = [];
  for (let i = 0; i < 3; i++) {
    // An unreachable destination: nothing drains while we measure.
    const g = await start([GATEWAY, join(dir, 'sender'), 'http://127.0.0.1:9/mcp', '64']);
    ready.push(g.ms);
    const t0 = performance.now();
    for (;;) {
      const s = /** @type {{ depth: number, loading?: unknown }} */ (await (await fetch(new URL('/v1/queue/status', g.url))).json());
      if (s.loading === undefined) {
        if (s.depth !== rows) throw new Error(`loaded ${s.depth} of ${rows} rows`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    loaded.push(g.ms + performance.now() - t0);
    await stop(g.child);
  }
  rmSync(dir, { recursive: true, force: true });
  const median = (/** @type {number[]} */ xs) => xs.sort((a, b) => a - b)[1] ?? NaN;
  return { ready: median(ready), loaded: median(loaded) };
}

/** @type {Record<string, unknown>} */
const out = { bench: 'queue-drain', calls: N, window: WINDOW, live_clients: LIVE, load_average_at_start: loadavg().map((l) => Number(l.toFixed(2))) };
if (N > 0) {
const base = await drain(1, true);
const windowed = await drain(WINDOW, false);
const fast = await drain(WINDOW, true);
Object.assign(out, {
  baseline_window_1_calls_per_second: Math.round(base.rate),
  windowed_unbatched_calls_per_second: Math.round(windowed.rate),
  drained_calls_per_second: Math.round(fast.rate),
  ratio_windowed_vs_window_1: Number((windowed.rate / base.rate).toFixed(2)),
  ratio_vs_window_1: Number((fast.rate / base.rate).toFixed(2)),
  live_p50_ms_during_drain: quantile(fast.during, 0.5),
  live_p99_ms_during_drain: quantile(fast.during, 0.99),
  live_p50_ms_no_drain: quantile(fast.after, 0.5),
  live_p99_ms_no_drain: quantile(fast.after, 0.99),
  live_p99_ratio_during_vs_no_drain: Number(((quantile(fast.during, 0.99) ?? 0) / (quantile(fast.after, 0.99) ?? 1)).toFixed(2)),
  live_calls_during_drain: fast.during.length,
  live_p99_ms_during_window_1_drain: quantile(base.during, 0.99),
  exactly_once: true,
});
}
if (STARTUP_N > 0) {
  const empty = await startup(0);
  const deep = await startup(STARTUP_N);
  Object.assign(out, {
    startup_rows: STARTUP_N,
    startup_ms_empty: Math.round(empty.ready),
    startup_ms_deep: Math.round(deep.ready),
    startup_ratio: Number((deep.ready / empty.ready).toFixed(2)),
    deep_rows_loaded_ms_after_spawn: Math.round(deep.loaded),
  });
}
out.load_average_at_end = loadavg().map((l) => Number(l.toFixed(2)));
console.log(JSON.stringify(out));
