#!/usr/bin/env node
// bench/ops/overhead: what usage analytics and OpenTelemetry tracing cost a
// tools/call, and how the telemetry outage buffer holds up, in one run.
//
// - calls: tools/call (count_tokens) at CLIENTS concurrent clients against
//   three `mcp-edge serve` processes: analytics and telemetry off, off again
//   (the noise floor), and on (analytics, plus telemetry exporting every
//   second to an OTLP receiver process, test/fixtures/otlp-receiver.mjs). The
//   targets take turns round after round; figures are medians of the rounds.
//   The clients call at RATE calls/s in all (each its share, on a fixed
//   schedule), below what any target can serve, so a call's latency is its
//   own work and not a queue: clients calling back to back (RATE=0) keep the
//   gateway saturated, and there p50 is CLIENTS / throughput, ten times any
//   per-call cost at 10 clients (RATE=0 still reports the throughput ratio).
//   Besides latency, each round reads the target process's CPU time (user +
//   system, /proc/<pid>/stat) over the measured window: CPU µs per call is
//   what the work added costs, resolved far below the end-to-end noise of a
//   shared 2-core machine (the off-again target shows that noise).
// - buffer: a gateway in this process with telemetry on and its collector
//   down: BUFFER_CALLS calls, then the compressed bytes per call in the
//   SQLite buffer (and what 24 h at 50 calls/s would take); then the
//   receiver starts and the backlog drains: calls' worth of telemetry sent
//   per second, against the 50 calls/s that produced it.
//
//   node bench/ops/overhead.mjs   (env: ROUNDS=5 CLIENTS=10 RATE=1000 WARMUP_MS=1000 MEASURE_MS=3000 BUFFER_CALLS=5000
//                                  PARTS=calls,buffer ON=analytics,telemetry COMPRESSION=lz4 EXPORT_SECONDS=10: the buffer part's telemetry settings)
// Prints one JSON document on stdout. Needs the built host (npm run build).
import { fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGateway } from '../../host/dist/index.js';
import { createLogger } from '../../host/dist/telemetry/log.js';
import { processCpuMs } from '../gateway/procstat.mjs';
import { COUNT_TOKENS, round, runLoad } from '../gateway/load.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(root, 'host/bin/mcp-edge.js');
const RECEIVER = join(root, 'test/fixtures/otlp-receiver.mjs');
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CLIENTS = Number(process.env.CLIENTS ?? 10);
const WARMUP_MS = Number(process.env.WARMUP_MS ?? 1000);
const MEASURE_MS = Number(process.env.MEASURE_MS ?? 3000);
const BUFFER_CALLS = Number(process.env.BUFFER_CALLS ?? 5000);
const RATE = Number(process.env.RATE ?? 1000);
const DAY_AT_50_PER_SEC = 24 * 3600 * 50;
const PARTS = (process.env.PARTS ?? 'calls,buffer').split(',');
/** What the "on" target turns on: analytics, telemetry, or both (the default; the goal is about both). */
const ON = (process.env.ON ?? 'analytics,telemetry').split(',');
const COMPRESSION = /** @type {'lz4' | 'zstd' | 'none'} */ (process.env.COMPRESSION ?? 'lz4');
const EXPORT_SECONDS = Number(process.env.EXPORT_SECONDS ?? 10);

const scratch = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-ops-'));
/** @type {import('node:child_process').ChildProcess[]} */
const children = [];

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** Starts a child and resolves once its output matches `pattern`. */
function startChild(/** @type {string[]} */ args, /** @type {RegExp} */ pattern, /** @type {'stdout' | 'stderr'} */ stream) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    child[stream]?.setEncoding('utf8');
    child[stream]?.on('data', (chunk) => {
      seen += chunk;
      const match = seen.match(pattern);
      if (match) resolve({ child, match });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${seen}`)));
  });
}

async function startReceiver(/** @type {number} */ port) {
  const { child } = await startChild([RECEIVER, String(port), join(scratch, `received-${port}.jsonl`)], /listening/, 'stdout');
  return child;
}

/** `mcp-edge serve` with the given config text; resolves with its URL. */
async function startTarget(/** @type {string} */ name, /** @type {string} */ toml) {
  const dir = join(scratch, name);
  mkdirSync(dir);
  const config = join(dir, 'mcp-edge.toml');
  writeFileSync(config, toml);
  const { child, match } = await startChild([CLI, 'serve', '--config', config, '--bind', '127.0.0.1:0', '--data-dir', dir], /listening \{"url":"([^"]+)"/, 'stderr');
  return { name, url: /** @type {string} */ (match[1]), pid: /** @type {number} */ (child.pid) };
}

/** One round: CLIENTS sessions calling count_tokens for WARMUP_MS + MEASURE_MS; the target's CPU over the measured window. */
async function runRound(/** @type {string} */ url, /** @type {number} */ pid) {
  let cpuAtStart = NaN;
  let cpuAtEnd = NaN;
  const row = await runLoad(url, {
    clients: CLIENTS,
    rate: RATE,
    warmupMs: WARMUP_MS,
    measureMs: MEASURE_MS,
    call: COUNT_TOKENS,
    onWindowStart: () => (cpuAtStart = processCpuMs(pid)),
    onWindowEnd: () => (cpuAtEnd = processCpuMs(pid)),
  });
  if (row.errors > 0) throw new Error(`${row.errors} calls failed against ${url}`);
  return { p50Ms: row.p50Ms, p99Ms: row.p99Ms, callsPerSec: row.callsPerSec, cpuUsPerCall: ((cpuAtEnd - cpuAtStart) * 1000) / row.calls };
}

/** @param {number[]} values */
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function calls() {
  const receiverPort = await freePort();
  await startReceiver(receiverPort);
  const off = await startTarget('off', '[analytics]\nenabled = false\n');
  const offAgain = await startTarget('off-again', '[analytics]\nenabled = false\n');
  const analytics = `[analytics]\nenabled = ${ON.includes('analytics')}\n`;
  const telemetry = ON.includes('telemetry') ? `[telemetry]\nenabled = true\nendpoints = ["http://127.0.0.1:${receiverPort}"]\nexport_interval_seconds = 1\n` : '';
  const on = await startTarget('on', analytics + telemetry);
  const targets = [off, offAgain, on];
  /** @type {Map<string, { p50Ms: number; p99Ms: number; callsPerSec: number; cpuUsPerCall: number }[]>} */
  const rounds = new Map(targets.map((t) => [t.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let t = 0; t < targets.length; t++) {
      const target = targets[(r + t) % targets.length];
      if (!target) continue;
      rounds.get(target.name)?.push(await runRound(target.url, target.pid));
    }
  }
  const summaryOf = (/** @type {string} */ name) => {
    const rs = rounds.get(name) ?? [];
    return {
      p50Ms: round(median(rs.map((x) => x.p50Ms)), 4),
      p99Ms: round(median(rs.map((x) => x.p99Ms)), 4),
      callsPerSec: median(rs.map((x) => x.callsPerSec)),
      cpuUsPerCall: round(median(rs.map((x) => x.cpuUsPerCall)), 1),
    };
  };
  const summary = { off: summaryOf('off'), 'off-again': summaryOf('off-again'), on: summaryOf('on') };
  const added = (/** @type {{ p50Ms: number; p99Ms: number; callsPerSec: number; cpuUsPerCall: number }} */ s) => ({
    p50Ms: round(s.p50Ms - summary.off.p50Ms, 4),
    p99Ms: round(s.p99Ms - summary.off.p99Ms, 4),
    cpuUsPerCall: round(s.cpuUsPerCall - summary.off.cpuUsPerCall, 1),
    ratioCallsPerSec: round(s.callsPerSec / summary.off.callsPerSec, 3),
  });
  return { summary, addedVsOff: { 'off-again': added(summary['off-again']), on: added(summary.on) } };
}

/** Polls `check` every 20 ms until it is true. */
async function until(/** @type {() => boolean} */ check, /** @type {number} */ ms) {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function buffer() {
  const port = await freePort();
  const gateway = await createGateway({
    config: { gateway: { bind_address: '127.0.0.1:0', data_dir: join(scratch, 'buffer') }, telemetry: { enabled: true, endpoints: [`http://127.0.0.1:${port}`], export_interval_seconds: EXPORT_SECONDS, compression: COMPRESSION } },
    logger: createLogger('error'),
  });
  const telemetry = gateway.telemetry;
  if (!telemetry) throw new Error('telemetry is not on');
  const load = fork(join(root, 'bench/auth/load-child.mjs'), [gateway.url, '', String(BUFFER_CALLS), String(CLIENTS)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((r) => load.once('close', r));
  await telemetry.flush();
  // The exporter hands batches to the buffer asynchronously: wait for the last.
  const tracesUrl = `http://127.0.0.1:${port}/v1/traces`;
  let depth = -1;
  await until(() => {
    const now = telemetry.buffer.depth(tracesUrl);
    const settled = now === depth;
    depth = now;
    return settled && now > 0;
  }, 30_000);
  const bytes = telemetry.buffer.bytes;
  const batches = telemetry.buffer.depth();
  const bytesPerCall = bytes / BUFFER_CALLS;
  const started = performance.now();
  await startReceiver(port);
  await until(() => telemetry.buffer.depth() === 0, 120_000);
  const drainSec = (performance.now() - started) / 1000;
  await gateway.close();
  return {
    compression: COMPRESSION,
    exportIntervalSeconds: EXPORT_SECONDS,
    calls: BUFFER_CALLS,
    batches,
    storedBytes: bytes,
    storedBytesPerCall: round(bytesPerCall, 1),
    dayAt50PerSecBytes: Math.round(bytesPerCall * DAY_AT_50_PER_SEC),
    defaultBoundBytes: 768 * 1024 * 1024,
    drainSec: round(drainSec, 2),
    drainedCallsPerSec: round(BUFFER_CALLS / drainSec, 0),
    ratioToProduction50PerSec: round(BUFFER_CALLS / drainSec / 50, 1),
  };
}

async function main() {
  const loadAtStart = round(os.loadavg()[0] ?? NaN, 2);
  const started = performance.now();
  const c = PARTS.includes('calls') ? await calls() : undefined;
  const b = PARTS.includes('buffer') ? await buffer() : undefined;
  const report = {
    bench: 'ops/overhead',
    machine: { cpus: os.cpus().length, node: process.version, loadAvg1mAtStart: loadAtStart, loadAvg1mAtEnd: round(os.loadavg()[0] ?? NaN, 2) },
    settings: { clients: CLIENTS, rate: RATE, rounds: ROUNDS, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, bufferCalls: BUFFER_CALLS, on: ON },
    calls: c,
    buffer: b,
    goals: {
      addedP50AtMost0_05ms: c ? c.addedVsOff.on.p50Ms <= 0.05 : null,
      addedCpuPerCallAtMost50us: c ? c.addedVsOff.on.cpuUsPerCall <= 50 : null,
      dayAt50PerSecFitsDefaultBound: b ? b.dayAt50PerSecBytes <= b.defaultBoundBytes : null,
      backlogDrainsAt10xProduction: b ? b.ratioToProduction50PerSec >= 10 : null,
    },
    elapsedSec: round((performance.now() - started) / 1000, 1),
  };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench/ops/overhead: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
}
