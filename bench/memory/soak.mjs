// Soak: 100 tool calls a second through mcp-edge (10 sessions, one stdio
// upstream) for SOAK_SECONDS (default 600), RSS sampled every 5 s; the slope of
// RSS over time says whether memory grows. In the same run and window, a bare
// node:http server takes 100 requests a second too: its slope is the baseline
// (what Node's own heap does under that load). Results: bench/results/soak.json.
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpHttpClient } from '../gateway/client.mjs';
import { machine, replicaUpstreams, ROOT, rssOf, slope, sleep, startBare, startGateway } from './common.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = 100;
const SAMPLE_MS = 5000;

/** Runs `call` RATE times a second until `until` ms; counts completions and errors. @param {() => Promise<unknown>} call @param {number} until */
async function paced(call, until) {
  const counts = { ok: 0, errors: 0, skipped: 0 };
  let inFlight = 0;
  const started = performance.now();
  for (let n = 0; performance.now() < until; n++) {
    const due = started + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    // Never more than 50 waiting: a stalled server is seen as skipped calls, not as the bench's own memory.
    if (inFlight >= 50) {
      counts.skipped += 1;
      continue;
    }
    inFlight += 1;
    call().then(() => counts.ok++, () => counts.errors++).finally(() => inFlight--);
  }
  return counts;
}

const gateway = await startGateway(`[gateway]\nsession_unused_seconds = 0\n${replicaUpstreams(1)}`);
const bare = await startBare();
const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
const clients = Array.from({ length: 10 }, () => new McpHttpClient(gateway.url, agent));
for (const c of clients) await c.initialize();
let next = 0;
const callGateway = () => /** @type {McpHttpClient} */ (clients[next++ % clients.length]).callTool('whoami');
const bareAgent = new http.Agent({ keepAlive: true, maxSockets: 20 });
const callBare = () => new Promise((resolve, reject) => http.get(bare.url, { agent: bareAgent }, (res) => res.resume().on('end', resolve)).on('error', reject));

const start = performance.now();
const until = start + SECONDS * 1000;
/** @type {{ t_min: number; edge_mb: number; bare_mb: number }[]} */
const samples = [];
const sampler = (async () => {
  while (performance.now() < until) {
    samples.push({ t_min: +((performance.now() - start) / 60_000).toFixed(3), edge_mb: rssOf(gateway.child.pid ?? 0).rss_mb, bare_mb: rssOf(bare.child.pid ?? 0).rss_mb });
    await sleep(SAMPLE_MS);
  }
})();
const [edgeCounts, bareCounts] = await Promise.all([paced(callGateway, until), paced(callBare, until), sampler]);
await sleep(1000);
agent.destroy();
bareAgent.destroy();
await Promise.all([gateway.stop(), bare.stop()]);

/** Slope in MB/min over the samples from `from` (a fraction of the run: skips the warm-up). @param {'edge_mb' | 'bare_mb'} key @param {number} from */
const slopeOf = (key, from) => {
  const kept = samples.slice(Math.floor(samples.length * from));
  return +slope(kept.map((s) => s.t_min), kept.map((s) => s[key])).toFixed(3);
};
/** The lowest RSS in each third of the run: V8 grows its heap in steps and gives it back at major GCs, so the floors show growth that the sawtooth hides. @param {'edge_mb' | 'bare_mb'} key */
const floors = (key) => [0, 1, 2].map((k) => Math.min(...samples.slice(Math.floor((samples.length * k) / 3), Math.floor((samples.length * (k + 1)) / 3)).map((s) => s[key])));
const report = {
  bench: 'soak',
  seconds: SECONDS,
  calls_per_second: RATE,
  mcp_edge: { calls: edgeCounts, rss_first_mb: samples[0]?.edge_mb, rss_last_mb: samples.at(-1)?.edge_mb, rss_max_mb: Math.max(...samples.map((s) => s.edge_mb)), slope_mb_per_min: slopeOf('edge_mb', 0), slope_after_warmup_mb_per_min: slopeOf('edge_mb', 0.2), rss_floor_by_third_mb: floors('edge_mb') },
  baseline_bare_node_http: { requests: bareCounts, rss_first_mb: samples[0]?.bare_mb, rss_last_mb: samples.at(-1)?.bare_mb, slope_mb_per_min: slopeOf('bare_mb', 0), slope_after_warmup_mb_per_min: slopeOf('bare_mb', 0.2), rss_floor_by_third_mb: floors('bare_mb') },
  machine: machine(),
  samples,
};
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/soak.json'), JSON.stringify(report, null, 2) + '\n');
const { samples: _omitted, ...summary } = report;
console.log(JSON.stringify(summary, null, 2));
