// Soak: 100 tool calls a second through mcp-edge (10 sessions, one stdio
// upstream) for SOAK_SECONDS (default 600), RSS sampled every 5 s. In the same
// run and window, a bare node:http server takes 100 requests a second too: the
// baseline (what Node itself does under that load). V8 resizes its young
// generation and compacts the old one in cycles of minutes, so the RSS is a
// sawtooth: the slope over one or two cycles depends on where the run ends,
// and the peak and floor in each third of the run say more (a ceiling that
// stops rising is bounded growth). Both processes log V8's heap spaces every
// 5 s (spaces-preload.mjs) to bench/results/<name>-spaces-{edge,bare}.jsonl;
// the CPU each process used per call is reported too. SOAK_NODE_FLAGS
// (space-separated) go to the gateway's node, to measure a V8 flag with the
// same command; SOAK_NAME (default "soak") names the result files
// (bench/results/<name>.json), to keep runs side by side.
import http from 'node:http';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpHttpClient } from '../gateway/client.mjs';
import { cpuMsOf, machine, replicaUpstreams, ROOT, rssOf, slope, sleep, startBare, startGateway } from './common.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = 100;
const NAME = process.env.SOAK_NAME ?? 'soak';
const NODE_FLAGS = (process.env.SOAK_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const SAMPLE_MS = 5000;

/**
 * Runs `call` RATE times a second until `until` ms; counts completions and
 * errors, and keeps the first errors' messages with when they came (seconds
 * into the run), so a failed call says why.
 * @param {() => Promise<unknown>} call @param {number} until
 */
async function paced(call, until) {
  const counts = { ok: 0, errors: 0, skipped: 0, first_errors: /** @type {{ t_s: number; message: string }[]} */ ([]) };
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
    call()
      .then(
        () => counts.ok++,
        (/** @type {unknown} */ err) => {
          counts.errors++;
          if (counts.first_errors.length < 5) counts.first_errors.push({ t_s: +((performance.now() - started) / 1000).toFixed(1), message: String(err instanceof Error ? err.message : err).slice(0, 300) });
        },
      )
      .finally(() => inFlight--);
  }
  return counts;
}

// Each process logs its V8 heap spaces (spaces-preload.mjs): which space the RSS follows.
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const spacesFile = (/** @type {string} */ who) => join(ROOT, `bench/results/${NAME}-spaces-${who}.jsonl`);
for (const who of ['edge', 'bare']) rmSync(spacesFile(who), { force: true });
const gateway = await startGateway(`[gateway]\nsession_unused_seconds = 0\n${replicaUpstreams(1)}`, { spacesFile: spacesFile('edge'), nodeFlags: NODE_FLAGS });
const bare = await startBare({ spacesFile: spacesFile('bare') });
const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
const clients = Array.from({ length: 10 }, () => new McpHttpClient(gateway.url, agent));
for (const c of clients) await c.initialize();
let next = 0;
const callGateway = () => /** @type {McpHttpClient} */ (clients[next++ % clients.length]).callTool('whoami');
const bareAgent = new http.Agent({ keepAlive: true, maxSockets: 20 });
const callBare = () => new Promise((resolve, reject) => http.get(bare.url, { agent: bareAgent }, (res) => res.resume().on('end', resolve)).on('error', reject));

const pids = { edge: gateway.child.pid ?? 0, bare: bare.child.pid ?? 0 };
const cpuAtStart = { edge: cpuMsOf(pids.edge), bare: cpuMsOf(pids.bare) };
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
const cpuUsed = { edge: cpuMsOf(pids.edge) - cpuAtStart.edge, bare: cpuMsOf(pids.bare) - cpuAtStart.bare };
agent.destroy();
bareAgent.destroy();
await Promise.all([gateway.stop(), bare.stop()]);

/** Slope in MB/min over the samples from `from` (a fraction of the run: skips the warm-up). @param {'edge_mb' | 'bare_mb'} key @param {number} from */
const slopeOf = (key, from) => {
  const kept = samples.slice(Math.floor(samples.length * from));
  return +slope(kept.map((s) => s.t_min), kept.map((s) => s[key])).toFixed(3);
};
/** The samples of each third of the run. @param {'edge_mb' | 'bare_mb'} key */
const thirds = (key) => [0, 1, 2].map((k) => samples.slice(Math.floor((samples.length * k) / 3), Math.floor((samples.length * (k + 1)) / 3)).map((s) => s[key]));
/** The lowest and the highest RSS in each third: V8 grows its heap in steps and gives it back at major GCs; a ceiling that stops rising is bounded growth. @param {'edge_mb' | 'bare_mb'} key */
const band = (key) => ({ rss_floor_by_third_mb: thirds(key).map((t) => Math.min(...t)), rss_peak_by_third_mb: thirds(key).map((t) => Math.max(...t)) });
/** CPU ms the process used per call over the run. @param {number} ms @param {{ ok: number }} counts */
const perCall = (ms, counts) => +((ms * 1000) / Math.max(1, counts.ok)).toFixed(1);
/**
 * From the spaces log of `who`: per thread (0 is the main one, others are
 * worker threads, each with a heap of its own), V8's heap size (MB) at the
 * start, the largest and at the end; and per space of the main thread, the
 * size V8 reserved at the start, the largest, at the end, and used at the end.
 * @param {string} who
 */
const spacesOf = (who) => {
  /** @typedef {{ thread: number; heap_total: number; spaces: Record<string, { size: number; used: number }> }} Line */
  const lines = /** @type {Line[]} */ (readFileSync(spacesFile(who), 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
  const range = (/** @type {number[]} */ xs) => ({ first_mb: xs[0], max_mb: Math.max(...xs), last_mb: xs.at(-1) });
  const threads = [...new Set(lines.map((l) => l.thread))];
  const heaps = Object.fromEntries(threads.map((t) => [`thread_${t}`, range(lines.filter((l) => l.thread === t).map((l) => l.heap_total))]));
  const main = lines.filter((l) => l.thread === 0);
  const names = Object.keys(main[0]?.spaces ?? {}).filter((name) => main.some((l) => (l.spaces[name]?.size ?? 0) > 0));
  const spaces = Object.fromEntries(names.map((name) => [name, { ...range(main.map((l) => l.spaces[name]?.size ?? NaN)), used_last_mb: main.at(-1)?.spaces[name]?.used }]));
  return { heap_total_by_thread: heaps, main_thread_spaces: spaces };
};
const report = {
  bench: 'soak',
  seconds: SECONDS,
  calls_per_second: RATE,
  gateway_node_flags: NODE_FLAGS,
  mcp_edge: { calls: edgeCounts, rss_first_mb: samples[0]?.edge_mb, rss_last_mb: samples.at(-1)?.edge_mb, rss_max_mb: Math.max(...samples.map((s) => s.edge_mb)), slope_mb_per_min: slopeOf('edge_mb', 0), slope_after_warmup_mb_per_min: slopeOf('edge_mb', 0.2), ...band('edge_mb'), cpu_us_per_call: perCall(cpuUsed.edge, edgeCounts), v8_spaces: spacesOf('edge') },
  baseline_bare_node_http: { requests: bareCounts, rss_first_mb: samples[0]?.bare_mb, rss_last_mb: samples.at(-1)?.bare_mb, slope_mb_per_min: slopeOf('bare_mb', 0), slope_after_warmup_mb_per_min: slopeOf('bare_mb', 0.2), ...band('bare_mb'), cpu_us_per_call: perCall(cpuUsed.bare, bareCounts), v8_spaces: spacesOf('bare') },
  machine: machine(),
  samples,
};
writeFileSync(join(ROOT, `bench/results/${NAME}.json`), JSON.stringify(report, null, 2) + '\n');
const { samples: _omitted, ...summary } = report;
console.log(JSON.stringify(summary, null, 2));
