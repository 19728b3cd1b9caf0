// The queue's own share of a deferred tools/call, without HTTP or JSON-RPC:
// the interceptor the gateway runs for a task-augmented call (defer: enqueue,
// group commit, durable acknowledgement, the task it answers with), driven by
// C concurrent callers in one process. Reports calls per second and the
// event loop's busy time per call, for both ways a group reaches the disk:
// `in-commit` (SQLite fsyncs inside COMMIT, on the loop; the baseline) and
// `off-loop` (the WAL is fdatasynced on the thread pool).
//   N=5000 C=32 node bench/queue/intercept.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadCore, openDatabase, OfflineQueue, IdempotencyMemory } from '../../host/dist/index.js';
import { queueInterceptor } from '../../host/dist/queue/mcp.js';

const N = Number(process.env.N ?? 5000);
const C = Number(process.env.C ?? 32);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const text = 'x'.repeat(900);
const core = await loadCore();

/** @param {'in-commit' | 'off-loop'} diskFlush */
async function measure(diskFlush, calls = N) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-intercept-'));
  const db = openDatabase(dir);
  const q = await OfflineQueue.open(db, core, {
    destinations: { dest: { maxItems: 10_000_000, maxBytes: 2 ** 40, ttlMs: 0 } },
    deliver: async () => {
      throw new Error('link down (bench)');
    },
    backoff: { baseMs: 3_600_000, maxMs: 3_600_000, jitterPercent: 0 },
    tickMs: 3_600_000,
    compression: 'zstd',
    diskFlush,
    log: silent,
  });
  await q.ready;
  const intercept = queueInterceptor(q, { record: 'dest' }, new IdempotencyMemory(db, 60_000));
  const run = () => Promise.reject(new Error('a deferred call must not run now'));
  let next = 0;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next < calls) {
        const n = next++;
        const r = await intercept({ method: 'tools/call', params: { name: 'record', arguments: { n, text }, task: { ttl: 3_600_000 } } }, run);
        const task = 'task' in r ? /** @type {{ status?: string }} */ (r.task) : undefined;
        if (task?.status !== 'working') throw new Error('expected a working task');
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const busyMs = performance.eventLoopUtilization(elu0).active;
  const syncs = q.diskFlush.flushes;
  await q.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { perSecond: calls / secs, busyUsPerCall: (busyMs * 1000) / calls, syncs };
}

// One unmeasured pass of each first, so neither measured pass pays for JIT warm-up.
await measure('in-commit', Math.ceil(N / 4));
await measure('off-loop', Math.ceil(N / 4));
const inCommit = await measure('in-commit');
const offLoop = await measure('off-loop');
console.log(
  JSON.stringify({
    bench: 'queue-intercept-deferred-calls',
    calls: N,
    concurrency: C,
    off_loop_calls_per_second: Math.round(offLoop.perSecond),
    off_loop_loop_busy_us_per_call: Number(offLoop.busyUsPerCall.toFixed(1)),
    off_loop_fdatasyncs: offLoop.syncs,
    baseline_in_commit_calls_per_second: Math.round(inCommit.perSecond),
    baseline_in_commit_loop_busy_us_per_call: Number(inCommit.busyUsPerCall.toFixed(1)),
    ratio_calls_per_second: Number((offLoop.perSecond / inCommit.perSecond).toFixed(3)),
  }),
);
