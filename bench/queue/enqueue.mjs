// Durable enqueue rate through the embedding API: 1 KB calls, each
// acknowledged only after its group is on disk (the queue's default
// disk_sync = off-loop: COMMIT, then fdatasync of the WAL on the thread pool,
// then the acknowledgement; the same guarantee as synchronous=FULL, see
// host/src/queue/disk-flush.ts). Baseline in the same run: bare better-sqlite3
// inserting the same rows with synchronous=FULL in transactions of the same
// size, no core, no queue.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCore, openDatabase, OfflineQueue } from '../../host/dist/index.js';

const N = Number(process.env.N ?? 100_000);
const WINDOW = Number(process.env.WINDOW ?? 4096);
const compression = process.env.COMPRESSION ?? 'stored';
if (compression !== 'stored' && compression !== 'zstd' && compression !== 'lz4') throw new Error('COMPRESSION is stored, zstd or lz4');
/** How the core packs payloads. */
const COMPRESSION = compression;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const args = (/** @type {number} */ i) => ({ i, data: 'x'.repeat(1000) });

/** @param {boolean} withKeys */
async function queueRate(withKeys) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-queue-'));
  const db = openDatabase(dir);
  const core = await loadCore();
  const q = await OfflineQueue.open(db, core, {
    destinations: { cloud: { maxItems: 10_000_000, maxBytes: 2 ** 40, ttlMs: 0 } },
    deliver: async () => {
      throw new Error('link down (bench)');
    },
    backoff: { baseMs: 3_600_000, maxMs: 3_600_000, jitterPercent: 0 },
    tickMs: 3_600_000,
    compression: COMPRESSION,
    log: silent,
  });
  await q.ready;
  const t0 = performance.now();
  for (let i = 0; i < N; i += WINDOW) {
    const group = [];
    for (let k = i; k < Math.min(N, i + WINDOW); k++) {
      group.push(q.enqueue({ destination: 'cloud', tool: 'record', arguments: args(k), ...(withKeys ? { idempotencyKey: `k-${k}` } : {}) }));
    }
    await Promise.all(group);
  }
  const secs = (performance.now() - t0) / 1000;
  const depth = q.depth;
  await q.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  if (depth !== N) throw new Error(`expected ${N} queued, found ${depth}`);
  return N / secs;
}

function sqliteRate() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, destination TEXT, tool TEXT, payload BLOB)');
  const ins = db.prepare('INSERT INTO t (destination, tool, payload) VALUES (?, ?, ?)');
  const enc = new TextEncoder();
  const t0 = performance.now();
  for (let i = 0; i < N; i += WINDOW) {
    db.transaction(() => {
      for (let k = i; k < Math.min(N, i + WINDOW); k++) ins.run('cloud', 'record', enc.encode(JSON.stringify({ arguments: args(k) })));
    })();
  }
  const secs = (performance.now() - t0) / 1000;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return N / secs;
}

const baseline = sqliteRate();
const queue = await queueRate(false);
const keyed = await queueRate(true);
console.log(
  JSON.stringify({
    bench: 'queue-enqueue',
    items: N,
    payload_bytes: JSON.stringify({ arguments: args(0) }).length,
    compression: COMPRESSION,
    group_window: WINDOW,
    enqueues_per_second: Math.round(queue),
    enqueues_per_second_with_client_keys: Math.round(keyed),
    baseline_bare_sqlite_rows_per_second: Math.round(baseline),
    ratio_vs_bare_sqlite: Number((queue / baseline).toFixed(3)),
    goal_per_second: 50_000,
  }),
);
