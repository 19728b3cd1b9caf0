// Two builds of mcp-edge side by side: each `mcp-edge serve` fronts the same
// fixture process over Streamable HTTP, and their rows alternate (the order
// flips every round), with the fixture reached directly before each pair. On
// a machine shared with other work, load changes within seconds: only rows
// measured in the same minute compare, so each round measures every target
// once at each concurrency, and the medians over rounds are reported.
//
//   node bench/gateway/side-by-side.mjs --base /path/to/other/checkout   (built: node scripts/run.mjs build)
//          [--rounds 5] [--clients 1,10,100] [--measure-ms 2000] [--rate 0] [--this-node-flags "--max-semi-space-size=8"]
//
// --rate N offers N calls/s in all instead of a closed loop: both builds then
// serve the same calls per second, so their CPU per call compares without the
// batching a faster build gets in a closed loop (more calls per wake-up).
//
// --this-node-flags gives Node flags to this checkout's gateway only (both
// checkouts the same build: what a V8 setting does to the same code).
//
// "base" is the other checkout's gateway, "this" the one of this checkout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, stopAll } from '../../test/conformance/lib/processes.mjs';
import { startFixtureHttp } from '../../test/conformance/lib/targets.mjs';
import { round, runLoad, warmUp } from './load.mjs';
import { processCpuMs } from './procstat.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** @param {string[]} argv */
function parseArgs(argv) {
  const options = { base: '', rounds: 5, clients: [1, 10, 100], measureMs: 2000, rate: 0, thisNodeFlags: /** @type {string[]} */ ([]) };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: a value is missing`);
    if (flag === '--base') options.base = value;
    else if (flag === '--rounds') options.rounds = Number(value);
    else if (flag === '--clients') options.clients = value.split(',').map(Number);
    else if (flag === '--measure-ms') options.measureMs = Number(value);
    else if (flag === '--rate') options.rate = Number(value);
    else if (flag === '--this-node-flags') options.thisNodeFlags = value.split(' ').filter(Boolean);
    else throw new Error(`unknown argument ${flag}`);
  }
  if (!options.base) throw new Error('--base: the other checkout (built) is required');
  if (!(Number.isInteger(options.rounds) && options.rounds >= 1 && options.rounds <= 50)) throw new Error('--rounds: 1..50');
  if (options.clients.some((c) => !Number.isInteger(c) || c < 1 || c > 1000)) throw new Error('--clients: integers 1..1000');
  if (!(Number.isFinite(options.rate) && options.rate >= 0 && options.rate <= 100_000)) throw new Error('--rate: calls/s in all, 0 (closed loop) to 100000');
  return options;
}

/**
 * `mcp-edge serve` of the checkout at `root`, fronting `fixtureUrl` over Streamable HTTP.
 * @param {string} root
 * @param {string} fixtureUrl
 * @param {string[]} [nodeFlags]
 */
async function startGateway(root, fixtureUrl, nodeFlags = []) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-side-'));
  const config = join(dir, 'mcp-edge.toml');
  writeFileSync(config, ['[aggregation]', 'prefix_mode = "never"', '', '[[upstreams]]', 'id = "conformance"', 'transport = "http"', `url = ${JSON.stringify(fixtureUrl)}`, ''].join('\n'));
  const proc = await startProcess(process.execPath, [...nodeFlags, join(root, 'host/bin/mcp-edge.js'), 'serve', '--config', config, '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'data')], {
    ready: /listening \{"url":"(http:\/\/127\.0\.0\.1:\d+\/mcp)"/, name: `mcp-edge serve (${root})`, timeoutMs: 30_000,
  });
  const url = proc.match?.[1];
  const pid = proc.child.pid;
  if (!url || pid === undefined) throw new Error(`the gateway of ${root} said no URL`);
  return { url, pid, stop: async () => (await proc.stop(), rmSync(dir, { recursive: true, force: true })) };
}

/** @param {number[]} values */
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const fixture = await startFixtureHttp();
  /** @type {{ round: number; target: string; clients: number; p50Ms: number; p99Ms: number; callsPerSec: number; cpuMsPerCall: number | null; loadAvg1m: number }[]} */
  const rows = [];
  const gateways = { base: await startGateway(options.base, fixture.url), this: await startGateway(ROOT, fixture.url, options.thisNodeFlags) };
  try {
    /** @type {Record<string, { url: string; pid: number | undefined }>} */
    const all = { direct: fixture, ...gateways };
    for (const target of Object.values(all)) await warmUp(target.url);
    for (let pass = 0; pass < options.rounds; pass++) {
      for (const clients of options.clients) {
        const pair = pass % 2 === 0 ? ['base', 'this'] : ['this', 'base'];
        for (const name of ['direct', ...pair]) {
          const target = all[name];
          if (!target) throw new Error(`no target ${name}`);
          const cpu = [NaN, NaN];
          const mark = (/** @type {0 | 1} */ i) => () => (cpu[i] = target.pid ? processCpuMs(target.pid) : NaN);
          const row = await runLoad(target.url, { clients, warmupMs: 300, measureMs: options.measureMs, rate: options.rate, onWindowStart: mark(0), onWindowEnd: mark(1) });
          const cpuMs = (cpu[1] ?? NaN) - (cpu[0] ?? NaN);
          rows.push({ round: pass, target: name, clients, p50Ms: row.p50Ms, p99Ms: row.p99Ms, callsPerSec: row.callsPerSec, cpuMsPerCall: Number.isFinite(cpuMs) && row.calls > 0 ? round(cpuMs / row.calls, 3) : null, loadAvg1m: round(loadavg()[0] ?? NaN, 2) });
          process.stderr.write(`round ${pass} ${name} x${clients}: p50 ${row.p50Ms} ms, ${row.callsPerSec}/s\n`);
        }
      }
    }
  } finally {
    for (const gateway of Object.values(gateways)) await gateway.stop();
    await fixture.stop();
    stopAll();
  }
  const medians = [];
  for (const clients of options.clients) {
    for (const target of ['direct', 'base', 'this']) {
      const mine = rows.filter((r) => r.target === target && r.clients === clients);
      medians.push({
        target, clients,
        p50Ms: median(mine.map((r) => r.p50Ms)), p99Ms: median(mine.map((r) => r.p99Ms)), callsPerSec: median(mine.map((r) => r.callsPerSec)),
        cpuMsPerCall: median(mine.flatMap((r) => (r.cpuMsPerCall === null ? [] : [r.cpuMsPerCall]))),
      });
    }
  }
  // This build's CPU per call over base's, paired within each round (measured seconds apart): the median per concurrency.
  const paired = options.clients.map((clients) => {
    const ratios = [];
    for (let pass = 0; pass < options.rounds; pass++) {
      const cpuOf = (/** @type {string} */ target) => rows.find((r) => r.round === pass && r.clients === clients && r.target === target)?.cpuMsPerCall;
      const [mine, theirs] = [cpuOf('this'), cpuOf('base')];
      if (mine && theirs) ratios.push(round(mine / theirs, 3));
    }
    return { clients, cpuRatioMedian: median(ratios), cpuRatios: ratios };
  });
  const loads = rows.map((r) => r.loadAvg1m);
  process.stdout.write(`${JSON.stringify({ base: options.base, this: ROOT, rounds: options.rounds, thisNodeFlags: options.thisNodeFlags, measureMs: options.measureMs, rate: options.rate, loadAvg1m: { min: Math.min(...loads), max: Math.max(...loads) }, medians, paired, rows }, null, 2)}\n`);
}

await main();
