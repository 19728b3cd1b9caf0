// Runs the queue benches one after another (each in its own process, so one's
// garbage does not count against the next) and prints one JSON line per bench.
//   node bench/queue/run.mjs            sizes for a quiet machine
//   QUICK=1 node bench/queue/run.mjs    small sizes (a loaded CI box)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const quick = process.env.QUICK === '1';
/** @type {[string, Record<string, string>][]} */
const benches = [
  ['enqueue.mjs', { N: quick ? '20000' : '200000' }],
  ['intercept.mjs', { N: quick ? '2000' : '10000', C: '32' }],
  ['http.mjs', { N: quick ? '1000' : '10000', CLIENTS: '4', PER_CLIENT: '8' }],
  ['sync.mjs', { N: quick ? '300' : '3000' }],
  ['memory.mjs', { N: '1000000' }],
];
for (const [file, env] of benches) {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.status === 0 ? r.stdout : JSON.stringify({ bench: file, error: `exit ${r.status}` }) + '\n');
}
