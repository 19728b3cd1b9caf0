#!/usr/bin/env node
// bench/tls: tools/call over HTTPS against plain HTTP, at 10 clients with
// keep-alive, in one run. Three `mcp-edge serve` processes with the same
// configuration, differing only in [security]: plain HTTP (the baseline),
// HTTPS, and HTTPS with client certificates required (mTLS). All three front
// the same upstream process (the conformance fixture over Streamable HTTP),
// so the only difference is TLS between the client and the gateway. Rounds
// alternate between the three, so that other work on the machine falls on
// all of them alike; the ratio is over the sums of all rounds.
//
//   node bench/tls/run.mjs [--clients 10] [--rounds 3] [--warmup-ms 300] [--measure-ms 2000]
//
// Prints one JSON document on stdout and writes it to bench/results/tls.json.
// Real processes, certificates made here with the openssl CLI, 127.0.0.1 only.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll } from '../../test/conformance/lib/processes.mjs';
import { startEdgeGateway, startFixtureHttp } from '../../test/conformance/lib/targets.mjs';
import { runLoad, round } from '../gateway/load.mjs';
import { treeCpuMs } from '../gateway/procstat.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const GOAL_RATIO = 0.8;

/** @typedef {{ clients: number; rounds: number; warmupMs: number; measureMs: number }} Options */
/** @typedef {{ name: string; url: string; pid: number | undefined; tls?: import('node:tls').ConnectionOptions; stop: () => Promise<void> }} Mode */

/**
 * @param {string[]} argv
 * @returns {Options}
 */
function parseArgs(argv) {
  /** @type {Options} */
  const options = { clients: 10, rounds: 3, warmupMs: 300, measureMs: 2000 };
  /** @type {Record<string, keyof Options>} */
  const flags = { '--clients': 'clients', '--rounds': 'rounds', '--warmup-ms': 'warmupMs', '--measure-ms': 'measureMs' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = flags[argv[i] ?? ''];
    if (!key) throw new Error(`unknown argument ${argv[i]}; use ${Object.keys(flags).join(', ')}`);
    options[key] = Number(argv[i + 1]);
  }
  if (!(options.clients >= 1 && options.clients <= 200)) throw new Error('--clients: 1..200');
  if (!(options.rounds >= 1 && options.rounds <= 20)) throw new Error('--rounds: 1..20');
  if (!(options.measureMs > 0 && options.measureMs <= 20_000)) throw new Error('--measure-ms: 1..20000');
  return options;
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate (EC
 * P-256, as a small gateway would use), made with the openssl CLI.
 * @param {string} dir
 */
function makeCertificates(dir) {
  const file = (/** @type {string} */ name) => join(dir, name);
  const openssl = (/** @type {string[]} */ args) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc'];
  openssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-subj', '/CN=bench CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  const leaf = (/** @type {string} */ name, /** @type {string[]} */ ext) =>
    openssl(['req', '-x509', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-subj', `/CN=${name}`, '-days', '2', '-CA', file('ca.crt'), '-CAkey', file('ca.key'), ...ext.flatMap((e) => ['-addext', e])]);
  leaf('server', ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth', 'basicConstraints=CA:FALSE']);
  leaf('client', ['extendedKeyUsage=clientAuth', 'basicConstraints=CA:FALSE']);
  return { ca: file('ca.crt'), server: { cert: file('server.crt'), key: file('server.key') }, client: { cert: file('client.crt'), key: file('client.key') } };
}

/**
 * mcp-edge.toml: the fixture as the one upstream (names unprefixed), and `security` as given.
 * @param {string} upstreamUrl
 * @param {string[]} security  lines of the [security] section
 */
function gatewayToml(upstreamUrl, security) {
  return ['[aggregation]', 'prefix_mode = "never"', '', '[[upstreams]]', 'id = "fixture"', 'transport = "http"', `url = ${JSON.stringify(upstreamUrl)}`, '', ...(security.length ? ['[security]', ...security] : []), ''].join('\n');
}

/**
 * @param {Mode} mode
 * @param {Options} options
 */
async function measure(mode, options) {
  const cpu = [NaN, NaN];
  const mark = (/** @type {0 | 1} */ i) => () => {
    cpu[i] = mode.pid ? treeCpuMs(mode.pid) : NaN;
  };
  const row = await runLoad(mode.url, { clients: options.clients, warmupMs: options.warmupMs, measureMs: options.measureMs, onWindowStart: mark(0), onWindowEnd: mark(1), ...(mode.tls ? { tls: mode.tls } : {}) });
  const [start = NaN, end = NaN] = cpu;
  return { ...row, gatewayCpuMsPerCall: Number.isFinite(end - start) ? round((end - start) / Math.max(1, row.calls), 3) : null };
}

/** @typedef {Awaited<ReturnType<typeof measure>> & { mode: string; round: number }} Row */

/**
 * Totals of one mode over every round (each measured for measureMs).
 * @param {Row[]} rows
 * @param {string} mode
 * @param {number} measureMs
 */
function totals(rows, mode, measureMs) {
  const mine = rows.filter((r) => r.mode === mode);
  const calls = mine.reduce((sum, r) => sum + r.calls, 0);
  const seconds = (mine.length * measureMs) / 1000;
  const median = (/** @type {number[]} */ v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
  return {
    callsPerSec: round(calls / Math.max(1e-9, seconds), 0),
    errors: mine.reduce((sum, r) => sum + r.errors, 0),
    medianP50Ms: median(mine.map((r) => r.p50Ms)),
    medianP99Ms: median(mine.map((r) => r.p99Ms)),
    medianGatewayCpuMsPerCall: median(mine.map((r) => r.gatewayCpuMsPerCall ?? NaN)),
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const loadAtStart = round(os.loadavg()[0] ?? NaN, 2);
  const dir = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-tls-'));
  /** @type {{ stop: () => Promise<void> }[]} */
  const running = [];
  try {
    const certs = makeCertificates(dir);
    const fixture = await startFixtureHttp();
    running.push(fixture);
    const serve = ['tls_cert = ' + JSON.stringify(certs.server.cert), 'tls_key = ' + JSON.stringify(certs.server.key)];
    const ca = readFileSync(certs.ca);
    /** @type {Mode[]} */
    const modes = [];
    for (const [name, security, tls] of /** @type {[string, string[], import('node:tls').ConnectionOptions | undefined][]} */ ([
      ['http', [], undefined],
      ['https', serve, { ca }],
      ['https+mtls', [...serve, 'tls_client_ca = ' + JSON.stringify(certs.ca)], { ca, cert: readFileSync(certs.client.cert), key: readFileSync(certs.client.key) }],
    ])) {
      const gateway = await startEdgeGateway(gatewayToml(fixture.url, security), { logLevel: 'info' });
      running.push(gateway);
      modes.push({ name, url: gateway.url, pid: gateway.pid, stop: gateway.stop, ...(tls ? { tls } : {}) });
    }
    /** @type {Row[]} */
    const rows = [];
    for (let round_ = 1; round_ <= options.rounds; round_++) {
      for (const mode of modes) {
        const row = await measure(mode, options);
        rows.push({ mode: mode.name, round: round_, ...row });
        process.stderr.write(`round ${round_} ${mode.name}: ${row.callsPerSec}/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ${row.errors} errors\n`);
      }
    }
    const summary = Object.fromEntries(modes.map((m) => [m.name, totals(rows, m.name, options.measureMs)]));
    const http = summary.http;
    const ratio = (/** @type {string} */ name) => (http ? round((summary[name]?.callsPerSec ?? NaN) / http.callsPerSec, 3) : NaN);
    const report = {
      bench: 'tls',
      tool: 'test_simple_text',
      upstream: 'test/fixtures/conformance-server over Streamable HTTP (plain), one process for all three gateways',
      certificates: 'EC P-256, made with openssl for this run',
      machine: { cpus: os.cpus().length, node: process.version, loadAvg1mAtStart: loadAtStart, loadAvg1mAtEnd: round(os.loadavg()[0] ?? NaN, 2) },
      settings: options,
      rows,
      summary,
      ratios: { https_vs_http_callsPerSec: ratio('https'), 'https+mtls_vs_http_callsPerSec': ratio('https+mtls') },
      goals: { httpsAtLeast0_8xHttpCallsPerSec: ratio('https') >= GOAL_RATIO },
      elapsedSec: round((performance.now() - started) / 1000, 1),
    };
    const text = `${JSON.stringify(report, null, 2)}\n`;
    process.stdout.write(text);
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/tls.json'), text);
  } finally {
    await Promise.allSettled(running.reverse().map((r) => r.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench/tls: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  stopAll();
}
