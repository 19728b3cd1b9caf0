#!/usr/bin/env node
// bench/gateway: tools/call latency (p50, p99) and throughput at 1, 10 and 100
// concurrent clients, directly to the upstream fixture over Streamable HTTP,
// through mcp-edge, and through supergateway fronting the fixture over stdio, all
// in one run, plus peak RSS of each front process under the 100-client load.
//
//   node bench/gateway/run.mjs [--gateway-url URL --gateway-pid PID]
//   (without --gateway-url it starts `mcp-edge serve` fronting the fixture over stdio)
//                              [--clients 1,10,100] [--warmup-ms 300] [--measure-ms 2000]
//
// Prints one JSON document on stdout. Real processes, 127.0.0.1 only.
import os from 'node:os';
import { stopAll } from '../../test/conformance/lib/processes.mjs';
import { runLoad, round } from './load.mjs';
import { sampleRss, treeCpuMs } from './procstat.mjs';
import { startDirect, startGateway, startSupergateway } from './targets.mjs';

/** @typedef {{ clients: number[]; warmupMs: number; measureMs: number; gatewayUrl?: string; gatewayPid?: number }} Options */
/** @typedef {import('./targets.mjs').BenchTarget} BenchTarget */
/**
 * One target at one concurrency.
 * @typedef {Awaited<ReturnType<typeof runLoad>> & { target: string; targetCpuMsPerCall: number | null; clientCpuMsPerCall: number | null }} Row
 */

/**
 * @param {string[]} argv
 * @returns {Options}
 */
function parseArgs(argv) {
  /** @type {Options} */
  const options = { clients: [1, 10, 100], warmupMs: 300, measureMs: 2000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!['--clients', '--warmup-ms', '--measure-ms', '--gateway-url', '--gateway-pid'].includes(flag ?? '')) throw new Error(`unknown argument ${flag}`);
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--clients') options.clients = value.split(',').map(Number);
    else if (flag === '--warmup-ms') options.warmupMs = Number(value);
    else if (flag === '--measure-ms') options.measureMs = Number(value);
    else if (flag === '--gateway-url') options.gatewayUrl = value;
    else options.gatewayPid = Number(value);
  }
  if (options.clients.some((c) => !Number.isInteger(c) || c < 1 || c > 1000)) throw new Error('--clients: integers 1..1000');
  if (!(options.measureMs > 0 && options.measureMs <= 20_000)) throw new Error('--measure-ms: 1..20000');
  return options;
}

/**
 * All rows for one target; RSS is sampled over the largest-concurrency row.
 * @param {BenchTarget} target
 * @param {Options} options
 */
async function benchTarget(target, options) {
  /** @type {Row[]} */
  const rows = [];
  /** @type {({ clients: number } & ReturnType<ReturnType<typeof sampleRss>['stop']>) | undefined} */
  let rss;
  const largest = Math.max(...options.clients);
  for (const clients of options.clients) {
    const sampler = clients === largest && target.pid ? sampleRss(target.pid) : undefined;
    const cpu = { target: [NaN, NaN], client: [NaN, NaN] };
    const mark = (/** @type {0 | 1} */ i) => () => {
      cpu.target[i] = target.pid ? treeCpuMs(target.pid) : NaN;
      const used = process.cpuUsage();
      cpu.client[i] = (used.user + used.system) / 1000;
    };
    const row = await runLoad(target.url, {
      clients, warmupMs: options.warmupMs, measureMs: options.measureMs, onWindowStart: mark(0), onWindowEnd: mark(1),
    });
    if (sampler) rss = { clients, ...sampler.stop() };
    // CPU per call suffers less than latency from other work on a shared machine.
    const perCall = (/** @type {number[]} */ [start = NaN, end = NaN]) => (Number.isFinite(end - start) ? round((end - start) / Math.max(1, row.calls), 3) : null);
    rows.push({ target: target.name, ...row, targetCpuMsPerCall: perCall(cpu.target), clientCpuMsPerCall: perCall(cpu.client) });
    process.stderr.write(`${target.name} x${clients}: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ${row.callsPerSec}/s\n`);
  }
  return { rows, rss };
}

/**
 * @param {Row[]} rows
 * @param {string} name
 * @param {string} baseline
 */
function compareRows(rows, name, baseline) {
  /** @type {Record<string, Record<string, number | null>>} */
  const out = {};
  for (const row of rows.filter((r) => r.target === name)) {
    const base = rows.find((r) => r.target === baseline && r.clients === row.clients);
    if (!base) continue;
    out[`clients${row.clients}`] = {
      addedP50Ms: round(row.p50Ms - base.p50Ms, 3),
      addedP99Ms: round(row.p99Ms - base.p99Ms, 3),
      p50Ratio: round(row.p50Ms / base.p50Ms, 3),
      p99Ratio: round(row.p99Ms / base.p99Ms, 3),
      throughputRatio: round(row.callsPerSec / base.callsPerSec, 3),
      addedCpuMsPerCall: row.targetCpuMsPerCall === null || base.targetCpuMsPerCall === null
        ? null
        : round(row.targetCpuMsPerCall - base.targetCpuMsPerCall, 3),
    };
  }
  return out;
}

/**
 * The goals, judged only when mcp-edge was measured.
 * @param {Row[]} rows
 */
function goals(rows) {
  const at = (/** @type {string} */ target, /** @type {number} */ clients) => rows.find((r) => r.target === target && r.clients === clients);
  const edge10 = at('mcp-edge', 10);
  const direct10 = at('direct', 10);
  if (!edge10 || !direct10) return { judged: false, why: 'mcp-edge was not measured (pass --gateway-url)' };
  const edgeRows = rows.filter((r) => r.target === 'mcp-edge');
  return {
    judged: true,
    addedP50AtMost0_5msAt10: edge10.p50Ms - direct10.p50Ms <= 0.5,
    addedP99AtMost2msAt10: edge10.p99Ms - direct10.p99Ms <= 2,
    atLeast3000CallsPerSec: Math.max(...edgeRows.map((r) => r.callsPerSec)) >= 3000,
    aheadOfSupergatewayEveryRow: edgeRows.every((r) => {
      const sg = at('supergateway', r.clients);
      return sg && r.callsPerSec > sg.callsPerSec && r.p50Ms < sg.p50Ms && r.p99Ms < sg.p99Ms;
    }),
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  // Other work on the machine skews every row; the load average says how much.
  const loadAtStart = round(os.loadavg()[0] ?? NaN, 2);
  /** @type {[string, () => Promise<BenchTarget>][]} */
  const starters = [
    ['direct', () => startDirect()],
    ['mcp-edge', () => startGateway({ url: options.gatewayUrl, pid: options.gatewayPid })],
    ['supergateway', () => startSupergateway()],
  ];
  /** @type {Row[]} */
  const rows = [];
  /** @type {Record<string, unknown>} */
  const peakRss = {};
  /** @type {Record<string, string>} */
  const skipped = {};
  for (const [name, start] of starters) {
    let target;
    try {
      target = await start();
    } catch (error) {
      // Only mcp-edge may be missing (a branch where it cannot front upstreams yet).
      if (name !== 'mcp-edge') throw error;
      skipped[name] = String(error instanceof Error ? error.message : error).split('\n').slice(0, 3).join(' ');
      process.stderr.write(`skipping ${name}: ${skipped[name]}\n`);
      continue;
    }
    try {
      const result = await benchTarget(target, options);
      rows.push(...result.rows);
      peakRss[target.name] = result.rss ?? null;
    } finally {
      await target.stop();
    }
  }
  const report = {
    bench: 'gateway',
    tool: 'test_simple_text',
    upstream: 'test/fixtures/conformance-server (HTTP for direct, stdio behind supergateway)',
    machine: { cpus: os.cpus().length, node: process.version, loadAvg1mAtStart: loadAtStart },
    settings: { clients: options.clients, warmupMs: options.warmupMs, measureMs: options.measureMs },
    rows,
    peakRss,
    skipped,
    ratios: {
      'mcp-edge_vs_direct': compareRows(rows, 'mcp-edge', 'direct'),
      'supergateway_vs_direct': compareRows(rows, 'supergateway', 'direct'),
      'mcp-edge_vs_supergateway': compareRows(rows, 'mcp-edge', 'supergateway'),
    },
    goals: goals(rows),
    elapsedSec: round((performance.now() - started) / 1000, 1),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench/gateway: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  stopAll();
}
