// The added p99 at one concurrency, measured in alternation. run.mjs measures
// each target in one window after the other, so its "added p99" is the
// difference of two tails taken seconds apart, and the direct fixture's own
// tail (~11-13 ms at 10 clients) moves between windows by more than the 2 ms
// goal (bench/gateway/README.md). Here direct, the node-floor and mcp-edge
// take turns in short windows, in a rotating order, for --rounds rounds; each
// target's latencies are pooled over its windows, so slow and quiet moments
// of the machine fall on all three alike. Reported: the pooled p50, p99 and
// p99.9 per target, what the floor and mcp-edge add to direct's, and the
// spread of the per-round added p99.
//
//   node bench/gateway/tail.mjs [--clients 10] [--rounds 20] [--window-ms 1000] [--warmup-ms 300]
import os from 'node:os';
import { stopAll } from '../../test/conformance/lib/processes.mjs';
import { percentile, round, runLoad, warmUp } from './load.mjs';
import { startDirect, startFloor, startGateway } from './targets.mjs';

/** @param {string[]} argv */
function parseArgs(argv) {
  const options = { clients: 10, rounds: 20, windowMs: 1000, warmupMs: 300 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], Number(argv[i + 1])];
    if (flag === '--clients') options.clients = value;
    else if (flag === '--rounds') options.rounds = value;
    else if (flag === '--window-ms') options.windowMs = value;
    else if (flag === '--warmup-ms') options.warmupMs = value;
    else throw new Error(`unknown argument ${flag} (known: --clients, --rounds, --window-ms, --warmup-ms)`);
  }
  for (const [key, value] of Object.entries(options)) if (!(Number.isInteger(value) && value > 0)) throw new Error(`--${key}: a positive integer`);
  return options;
}

/** @param {number[]} values */
const sorted = (values) => [...values].sort((a, b) => a - b);

/** @param {number[]} samples */
function summary(samples) {
  const s = sorted(samples);
  return { calls: s.length, p50Ms: round(percentile(s, 50), 3), p99Ms: round(percentile(s, 99), 3), p999Ms: round(percentile(s, 99.9), 3) };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const loadAtStart = round(os.loadavg()[0] ?? NaN, 2);
  const direct = await startDirect();
  const targets = [direct, await startFloor(direct.url), await startGateway({}, { fixtureUrl: direct.url })];
  try {
    for (const target of targets) await warmUp(target.url, { clients: options.clients });
    /** Each target's latencies pooled over its windows, and each window's p99. */
    const runs = targets.map((target) => ({ target, samples: /** @type {number[]} */ ([]), roundP99: /** @type {number[]} */ ([]), callsPerSec: /** @type {number[]} */ ([]) }));
    for (let r = 0; r < options.rounds; r++) {
      // Rotated, so that no target always follows the same one.
      for (const run of runs.map((_, i) => runs[(i + r) % runs.length] ?? runs[0])) {
        if (!run) continue;
        const row = await runLoad(run.target.url, { clients: options.clients, warmupMs: options.warmupMs, measureMs: options.windowMs, samplesOut: run.samples });
        if (row.errors > 0) throw new Error(`${run.target.name}: ${row.errors} calls failed`);
        run.roundP99.push(row.p99Ms);
        run.callsPerSec.push(row.callsPerSec);
      }
      process.stderr.write(`round ${r + 1}/${options.rounds}: ${runs.map((run) => `${run.target.name} p99 ${run.roundP99.at(-1)} ms, ${run.callsPerSec.at(-1)}/s`).join('; ')}\n`);
    }
    const [base, ...others] = runs.map((run) => ({ ...run, summary: summary(run.samples) }));
    if (!base) throw new Error('no target measured');
    const added = Object.fromEntries(
      others.map((run) => {
        const perRound = sorted(run.roundP99.map((p, i) => p - (base.roundP99[i] ?? NaN)));
        return [run.target.name, {
          pooledP50Ms: round(run.summary.p50Ms - base.summary.p50Ms, 3),
          pooledP99Ms: round(run.summary.p99Ms - base.summary.p99Ms, 3),
          pooledP999Ms: round(run.summary.p999Ms - base.summary.p999Ms, 3),
          perRoundP99Ms: { min: round(perRound[0] ?? NaN, 3), median: round(percentile(perRound, 50), 3), max: round(perRound.at(-1) ?? NaN, 3) },
        }];
      }),
    );
    const edge = others.find((run) => run.target.name === 'mcp-edge');
    const report = {
      bench: 'gateway-tail',
      settings: options,
      machine: { cpus: os.cpus().length, node: process.version, loadAvg1mAtStart: loadAtStart, loadAvg1mAtEnd: round(os.loadavg()[0] ?? NaN, 2) },
      pooled: Object.fromEntries([base, ...others].map((run) => [run.target.name, run.summary])),
      added,
      goal: { addedP99AtMost2ms: edge ? edge.summary.p99Ms - base.summary.p99Ms <= 2 : null },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    for (const target of targets.reverse()) await target.stop();
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench/gateway/tail: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  stopAll();
}
