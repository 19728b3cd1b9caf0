// Is the RSS growth under load a leak? The gateway in this process (one stdio
// upstream, 10 sessions, 100 calls/s) with the JS heap measured after forced
// full GCs every 20 s: a leak shows as a rising line, V8's heap sizing does
// not. Baseline in the same run: the same measurement before the first call.
// Run with `node --expose-gc bench/memory/heap-soak.mjs [seconds]` (default 180).
import http from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../../host/dist/gateway/gateway.js';
import { createLogger } from '../../host/dist/telemetry/log.js';
import { McpHttpClient } from '../gateway/client.mjs';
import { machine, REPLICA, ROOT, slope } from './common.mjs';

const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);
if (!gc) throw new Error('run with node --expose-gc');
const SECONDS = Number(process.argv[2] ?? 180);
const gateway = await createGateway({
  config: { gateway: { bind_address: '127.0.0.1:0', data_dir: mkdtempSync(join(tmpdir(), 'heap-soak-')), session_unused_seconds: 0 }, upstreams: [{ id: 'r0', transport: 'stdio', command: process.execPath, args: [REPLICA] }] },
  logger: createLogger('silent'),
});
await gateway.ready();
const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
const clients = Array.from({ length: 10 }, () => new McpHttpClient(gateway.url, agent));
for (const c of clients) await c.initialize();

const heapAfterGc = () => {
  gc();
  gc();
  return +(process.memoryUsage().heapUsed / 1e6).toFixed(2);
};
const start = performance.now();
/** @type {{ t_min: number; heap_mb: number }[]} */
const samples = [{ t_min: 0, heap_mb: heapAfterGc() }];
let calls = 0;
let errors = 0;
let lastSample = start;
while (performance.now() - start < SECONDS * 1000) {
  // 10 calls every ~100 ms: about 100 calls/s.
  await Promise.all(clients.map((c) => c.callTool('whoami').then(() => calls++, () => errors++)));
  await new Promise((r) => setTimeout(r, 80));
  if (performance.now() - lastSample > 20_000) {
    samples.push({ t_min: +((performance.now() - start) / 60_000).toFixed(3), heap_mb: heapAfterGc() });
    lastSample = performance.now();
  }
}
samples.push({ t_min: +((performance.now() - start) / 60_000).toFixed(3), heap_mb: heapAfterGc() });
agent.destroy();
await gateway.close();
const later = samples.slice(1);
const report = {
  bench: 'heap-after-gc-soak',
  seconds: SECONDS,
  calls,
  errors,
  baseline_heap_before_calls_mb: samples[0]?.heap_mb,
  heap_after_calls_mb: later.map((s) => s.heap_mb),
  slope_mb_per_min: +slope(later.map((s) => s.t_min), later.map((s) => s.heap_mb)).toFixed(4),
  machine: machine(),
};
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/heap-soak.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
process.exit(0);
