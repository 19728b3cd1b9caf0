// RSS growth with one million queued calls. Filling the queue through the
// enqueue path would take minutes on a small board, so the rows are written
// straight into SQLite (the same columns and a real codec frame the queue
// writes), then a fresh process measures what opening the queue costs: the
// core's rebuilt state plus the host. Baseline in the same run: the same open
// on an empty queue.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const N = Number(process.env.N ?? 1_000_000);
const self = fileURLToPath(import.meta.url);

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

async function measure(dir) {
  const { loadCore, openDatabase, OfflineQueue } = await import('../../host/dist/index.js');
  const core = await loadCore();
  const db = openDatabase(dir);
  global.gc();
  const m0 = process.memoryUsage();
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
  const openMs = performance.now() - t0;
  global.gc();
  const m1 = process.memoryUsage();
  const after = m1.rss;
  const parts = { heap_mb: (m1.heapTotal - m0.heapTotal) / 2 ** 20, external_mb: (m1.external - m0.external) / 2 ** 20, array_buffers_mb: (m1.arrayBuffers - m0.arrayBuffers) / 2 ** 20 };
  process.stdout.write(JSON.stringify({ depth: q.scheduler.length, rss_growth_bytes: after - before, open_ms: Math.round(openMs), parts }));
  await q.close();
  db.close();
}

function child(mode, dir, n) {
  const r = spawnSync(process.execPath, ['--expose-gc', self, mode, dir, String(n)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`);
  return r.stdout ? JSON.parse(r.stdout) : null;
}

const [mode, dirArg, nArg] = process.argv.slice(2);
if (mode === 'fill') await fill(dirArg, Number(nArg));
else if (mode === 'measure') await measure(dirArg);
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
      goal_mb: 100,
    }),
  );
}
