// RSS growth with one million queued calls. Filling the queue through the
// enqueue path would take minutes on a small board, so the rows are written
// straight into SQLite (the same columns and a real codec frame the queue
// writes), then a fresh process measures what opening the queue costs: the
// core's rebuilt state plus the host. Baseline in the same run: the same open
// on an empty queue.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const N = Number(process.env.N ?? 1_000_000);
const self = fileURLToPath(import.meta.url);

/** A full collection; the child processes run with --expose-gc. */
function collect() {
  if (!global.gc) throw new Error('run with node --expose-gc');
  global.gc();
}

/**
 * @param {string} dir
 * @param {number} n
 */
async function fill(dir, n) {
  const { loadCore, openDatabase } = await import('../../host/dist/index.js');
  const core = await loadCore();
  const db = openDatabase(dir);
  const frame = core.codec.pack(new TextEncoder().encode(JSON.stringify({ arguments: { data: 'x'.repeat(64) } })), { algorithm: 'stored' });
  const ins = db.prepare(`INSERT INTO deferred (id, state, destination, tool, priority, idem_key, client_key, secret, payload, bytes, created_ms, expires_ms, updated_ms)
                          VALUES (?, 'queued', 'cloud', 'record', 1, ?, 1, 'bench', ?, ?, ?, ?, ?)`);
  const now = Date.now();
  for (let i = 1; i <= n; i += 10_000) {
    db.transaction(() => {
      for (let k = i; k < Math.min(n + 1, i + 10_000); k++) ins.run(k, `key-${k}`, frame, frame.length, now, now + 86_400_000, now);
    })();
  }
  db.close();
}

/** Anonymous (heap, wasm) and file-backed resident memory, from /proc (Linux). */
function residentKinds() {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (/** @type {string} */ k) => Number(status.match(new RegExp(`${k}:\\s+(\\d+) kB`))?.[1] ?? 0) * 1024;
    return { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
  } catch {
    return { anon: 0, file: 0, shmem: 0 };
  }
}

/** @param {string} dir */
async function measure(dir) {
  const { loadCore, openDatabase, OfflineQueue } = await import('../../host/dist/index.js');
  const core = await loadCore();
  const db = openDatabase(dir);
  collect();
  const m0 = process.memoryUsage();
  const k0 = residentKinds();
  const before = m0.rss;
  const t0 = performance.now();
  const q = await OfflineQueue.open(db, core, {
    destinations: { cloud: { maxItems: 10_000_000, maxBytes: 2 ** 40 } },
    deliver: async () => {
      throw new Error('link down (bench)');
    },
    backoff: { baseMs: 3_600_000, maxMs: 3_600_000, jitterPercent: 0 },
    tickMs: 3_600_000,
    log: { debug() {}, info() {}, warn() {}, error() {} },
  });
  await q.ready;
  const openMs = performance.now() - t0;
  // Let concurrent sweeping finish and the allocator hand pages back before reading RSS.
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((r) => setTimeout(r, 300));
  }
  const m1 = process.memoryUsage();
  const k1 = residentKinds();
  const after = m1.rss;
  const parts = { heap_mb: (m1.heapTotal - m0.heapTotal) / 2 ** 20, external_mb: (m1.external - m0.external) / 2 ** 20, array_buffers_mb: (m1.arrayBuffers - m0.arrayBuffers) / 2 ** 20, rss_anon_mb: (k1.anon - k0.anon) / 2 ** 20, rss_file_mb: (k1.file - k0.file) / 2 ** 20, rss_shmem_mb: (k1.shmem - k0.shmem) / 2 ** 20 };
  process.stdout.write(JSON.stringify({ depth: q.depth, rss_growth_bytes: after - before, open_ms: Math.round(openMs), parts }));
  await q.close();
  db.close();
}

/**
 * The core alone, filled through admit-many (the enqueue path's doubling included), no SQLite.
 * @param {number} n
 */
async function admitPath(n) {
  const { loadCore } = await import('../../host/dist/index.js');
  const { QueueScheduler } = await import('../../host/dist/core/queue.js');
  const core = await loadCore();
  const s = new QueueScheduler(core.exports, { seed: 7n, defaultLimits: { maxItems: 1e9, maxBytes: 2 ** 50, overflow: 'reject' } });
  collect();
  const before = process.memoryUsage();
  /** @type {import('../../host/dist/core/queue.js').AdmitRequest[]} */
  const group = Array.from({ length: 4096 }, () => ({ destination: 'cloud', priority: 'normal', bytes: 100, idempotencyKey: '' }));
  for (let i = 0; i < n; i += group.length) {
    group.forEach((r, k) => (r.idempotencyKey = `key-${i + k}`));
    s.admitMany(group.slice(0, Math.min(group.length, n - i)), Date.now());
    s.commit();
  }
  collect();
  const after = process.memoryUsage();
  process.stdout.write(JSON.stringify({ depth: s.length, external_bytes: after.external - before.external, rss_bytes: after.rss - before.rss }));
}

/**
 * Runs this script as a child in `mode`; returns what it printed, parsed.
 * @param {'fill' | 'measure' | 'admit'} mode
 * @param {string} dir
 * @param {number} [n]
 */
function child(mode, dir, n) {
  const r = spawnSync(process.execPath, ['--expose-gc', self, mode, dir, String(n)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`);
  return r.stdout ? JSON.parse(r.stdout) : null;
}

const [mode, dirArg, nArg] = process.argv.slice(2);
if (mode === 'fill') await fill(dirArg ?? '', Number(nArg));
else if (mode === 'measure') await measure(dirArg ?? '');
else if (mode === 'admit') await admitPath(Number(nArg));
else {
  const full = mkdtempSync(join(tmpdir(), 'bench-mem-'));
  const empty = mkdtempSync(join(tmpdir(), 'bench-mem0-'));
  child('fill', full, N);
  child('fill', empty, 0);
  const base = child('measure', empty);
  const loaded = child('measure', full);
  rmSync(full, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
  if (loaded.depth !== N) throw new Error(`expected ${N} queued, rebuilt ${loaded.depth}`);
  const admit = child('admit', '-', N);
  const growth = loaded.rss_growth_bytes - base.rss_growth_bytes;
  console.log(
    JSON.stringify({
      bench: 'queue-memory',
      queued_items: N,
      rss_growth_mb: Number((growth / 2 ** 20).toFixed(1)),
      bytes_per_item: Math.round(growth / N),
      baseline_empty_open_rss_growth_mb: Number((base.rss_growth_bytes / 2 ** 20).toFixed(1)),
      rebuild_ms: loaded.open_ms,
      growth_parts_mb: loaded.parts,
      core_only_via_admit_path_mb: { wasm_memory: Number((admit.external_bytes / 2 ** 20).toFixed(1)), rss: Number((admit.rss_bytes / 2 ** 20).toFixed(1)) },
      goal_mb: 100,
    }),
  );
}
