#!/usr/bin/env node
// bench/ops/logs: what the structured logs add to one tools/call, in this
// process, the same work measured with and without it in one run.
//
// - baseline: an async "call" (two awaits, as a handler's shape) run as is.
// - context: the same call as the gateway runs it since the logs: the HTTP
//   request's context built from real-looking headers (X-Request-Id,
//   traceparent, Mcp-Session-Id) and entered, then the call's own context
//   entered, and the debug check, at level info (no line written): what every
//   call pays by default.
// - debug_json / debug_pretty: the same at level debug, one line per call
//   built and handed to a sink that drops it (the cost of the line, not of stderr).
// - gateway: tools/call (count_tokens) over HTTP to a gateway in this process,
//   one client, level info vs debug (json, dropped) in turns: the whole call,
//   which the figures above are a part of.
//
//   node bench/ops/logs.mjs   (env: CALLS=200000 ROUNDS=7 HTTP_CALLS=2000)
// Prints one JSON document: per-call ns (median of the rounds) and the added
// cost against the baseline. Needs the built host (npm run build).
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../../host/dist/index.js';
import { createLogger } from '../../host/dist/telemetry/log.js';
import { McpHttpClient } from '../gateway/client.mjs';
import { httpLogContext, runInCall, runInRequest } from '../../host/dist/telemetry/log-context.js';

const CALLS = Number(process.env.CALLS ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const HTTP_CALLS = Number(process.env.HTTP_CALLS ?? 2000);

const headers = {
  host: '127.0.0.1:8080',
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-session-id': '04c74b11-49df-4dde-9988-112efa4422bc',
  'mcp-protocol-version': '2025-06-18',
  'x-request-id': 'client-req-0001',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
};

/** The stand-in for a call's work: two awaits, as the gateway's handlers have at least. */
async function work() {
  await null;
  await null;
  return { content: [] };
}

/** @param {import('../../host/dist/telemetry/log.js').EdgeLogger} log */
function logged(log) {
  return async () => {
    const start = performance.now();
    try {
      return await work();
    } finally {
      log.debug('tools/call', { outcome: 'ok', duration_ms: performance.now() - start });
    }
  };
}

/** @param {import('../../host/dist/telemetry/log.js').EdgeLogger} log */
function withContext(log) {
  const call = logged(log);
  return () =>
    runInRequest(httpLogContext(headers), () =>
      runInCall({ session: headers['mcp-session-id'], tool: 'count_tokens', traceparent: undefined, principal: 'local:loopback' }, () => (log.enabled('debug') ? call() : work())),
    );
}

/** ns per call of `CALLS` sequential calls of `fn`. @param {() => Promise<unknown>} fn */
async function perCall(fn) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await fn();
  return Number(process.hrtime.bigint() - start) / CALLS;
}

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const drop = () => undefined;
const variants = {
  baseline: work,
  context: withContext(createLogger('info', drop, 'json')),
  debug_json: withContext(createLogger('debug', drop, 'json')),
  debug_pretty: withContext(createLogger('debug', drop, 'pretty')),
};

/** @type {Record<string, number[]>} */
const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const fn of Object.values(variants)) await perCall(fn); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  // The variants take turns, round after round: drift hits them alike.
  for (const [name, fn] of Object.entries(variants)) samples[name]?.push(await perCall(fn));
}
const ns = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.round(median(v))]));
const base = ns.baseline ?? NaN;

/** p50 µs of tools/call over HTTP at level info and at debug, in turns. */
async function gatewayCalls() {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-bench-logs-'));
  const gateway = await createGateway({ config: { gateway: { bind_address: '127.0.0.1:0', data_dir: dir }, analytics: { enabled: false } }, logger: createLogger('info', drop, 'json') });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const client = new McpHttpClient(gateway.url, agent);
  await client.initialize();
  /** @type {Record<'info' | 'debug', number[]>} */
  const p50 = { info: [], debug: [] };
  const round = async (/** @type {'info' | 'debug'} */ level) => {
    gateway.logs.setOperatorLevel(level);
    /** @type {number[]} */
    const times = [];
    for (let i = 0; i < HTTP_CALLS; i++) {
      const start = performance.now();
      await client.callTool('count_tokens', { text: 'hello edge' });
      times.push(performance.now() - start);
    }
    p50[level].push(median(times) * 1000);
  };
  await round('info'); // warm-up
  p50.info.length = 0;
  for (let r = 0; r < ROUNDS; r++) for (const level of /** @type {const} */ (['info', 'debug'])) await round(level);
  await client.close();
  agent.destroy();
  await gateway.close();
  rmSync(dir, { recursive: true, force: true });
  return { calls_per_round: HTTP_CALLS, p50_us_info: Math.round(median(p50.info)), p50_us_debug: Math.round(median(p50.debug)) };
}

const gateway = await gatewayCalls();
console.log(
  JSON.stringify(
    {
      bench: 'ops/logs',
      node: process.version,
      calls_per_round: CALLS,
      rounds: ROUNDS,
      per_call_ns: ns,
      added_ns_vs_baseline: Object.fromEntries(Object.entries(ns).filter(([k]) => k !== 'baseline').map(([k, v]) => [k, v - base])),
      ratio_vs_baseline: Object.fromEntries(Object.entries(ns).map(([k, v]) => [k, Math.round((v / base) * 100) / 100])),
      budget_ns: 50_000,
      gateway,
      load_average_1m: Math.round((loadavg()[0] ?? NaN) * 100) / 100,
      context_share_of_call_p50: Math.round((((ns.context ?? NaN) - base) / 1000 / gateway.p50_us_info) * 10_000) / 10_000,
    },
    null,
    2,
  ),
);
