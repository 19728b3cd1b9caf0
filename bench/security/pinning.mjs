#!/usr/bin/env node
// bench/security/pinning: what tool pinning costs, against the same gateway
// with pinning = "off", measured side by side in one run (rounds alternate
// between the two, so a shared machine's load falls on both alike).
//
//   refresh  an upstream (test/fixtures/pinning-server.mjs) lists TOOLS tool
//            definitions; a client calls its `reload` (the upstream sends
//            tools/list_changed) and times until the gateway's own
//            list_changed reaches it: the upstream's tools/list, the SDK's
//            parse, the screening (digest and compare of every definition,
//            fresh objects each time) and the rebuild of the merged list.
//   screen   ToolPins.screen alone over TOOLS fresh definitions (steady
//            state: all pinned): microseconds per tool.
//   calls    tools/call at CLIENTS concurrent clients through one `mcp-edge
//            serve` fronting the conformance fixture twice, pinned and not;
//            every client alternates between the two call by call. Pinning
//            adds nothing per call (routes hold only screened tools), which
//            this row checks.
//
//   node bench/security/pinning.mjs     (env: TOOLS=1000 ROUNDS=40 CLIENTS=10 MEASURE_MS=8000)
// Prints one JSON document on stdout. Needs the built host (npm run build).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createGateway } from '../../host/dist/index.js';
import { ToolPins } from '../../host/dist/security/pinning/pins.js';
import { PinStore } from '../../host/dist/security/pinning/store.js';
import { openDatabase } from '../../host/dist/storage/database.js';
import { createLogger } from '../../host/dist/telemetry/log.js';
import { FIXTURE_MAIN, startEdgeGateway } from '../../test/conformance/lib/targets.mjs';
import { McpHttpClient } from '../gateway/client.mjs';
import { round } from '../gateway/load.mjs';

const TOOLS = Number(process.env.TOOLS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const CLIENTS = Number(process.env.CLIENTS ?? 10);
const MEASURE_MS = Number(process.env.MEASURE_MS ?? 8000);
const FIXTURE = fileURLToPath(new URL('../../test/fixtures/pinning-server.mjs', import.meta.url));
const silent = createLogger('silent');

/** @typedef {'pin' | 'off'} Mode */

/**
 * A realistic definition: a paragraph of description, three typed parameters.
 * @param {number} i
 */
function definition(i) {
  return {
    name: `tool_${i}`,
    description: `Tool number ${i}: reads a record from the plant's historian by tag and time range, and returns the samples with their quality codes. Use it for trends, not for live values.`,
    inputSchema: {
      type: 'object',
      properties: {
        tag: { type: 'string', description: 'The historian tag, e.g. LINE1.PUMP3.FLOW.' },
        from: { type: 'string', format: 'date-time' },
        to: { type: 'string', format: 'date-time' },
      },
      required: ['tag', 'from'],
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  };
}

/** @param {number[]} samples */
function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (/** @type {number} */ p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
  return { p50Ms: round(at(50), 3), p99Ms: round(at(99), 3) };
}

/**
 * A gateway in this process fronting the pinning fixture with TOOLS tools, and a client that times refreshes.
 * @param {Mode} mode
 * @param {string} toolsFile
 */
async function refreshTarget(mode, toolsFile) {
  const dataDir = mkdtempSync(join(os.tmpdir(), `mcp-edge-bench-pins-${mode}-`));
  const gateway = await createGateway({
    config: {
      gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir },
      upstreams: [{ id: 'up', transport: 'stdio', command: process.execPath, args: [FIXTURE], env: { TOOLS_FILE: toolsFile }, pinning: mode }],
    },
    logger: silent,
  });
  /** @type {() => void} */
  let changed = () => undefined;
  const client = new Client({ name: 'bench', version: '1.0.0' });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => changed());
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
  const listed = (await client.listTools()).tools.length;
  if (listed < TOOLS) throw new Error(`${mode}: the gateway lists ${listed} tools, fewer than the fixture's ${TOOLS}`);
  /** One refresh: reload, then the gateway's list_changed. */
  const refresh = async () => {
    const seen = new Promise((resolve) => (changed = () => resolve(undefined)));
    const start = performance.now();
    await client.callTool({ name: 'reload', arguments: {} });
    await seen;
    return performance.now() - start;
  };
  const close = async () => {
    await client.close();
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { refresh, close };
}

async function benchRefresh() {
  const dir = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-pins-'));
  const toolsFile = join(dir, 'tools.json');
  writeFileSync(toolsFile, JSON.stringify(Array.from({ length: TOOLS }, (_, i) => definition(i))));
  const targets = { off: await refreshTarget('off', toolsFile), pin: await refreshTarget('pin', toolsFile) };
  /** @type {Record<Mode, number[]>} */
  const samples = { off: [], pin: [] };
  try {
    for (const mode of /** @type {Mode[]} */ (['off', 'pin'])) for (let i = 0; i < 3; i++) await targets[mode].refresh(); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      const order = /** @type {Mode[]} */ (round % 2 === 0 ? ['off', 'pin'] : ['pin', 'off']);
      for (const mode of order) samples[mode].push(await targets[mode].refresh());
    }
  } finally {
    await targets.off.close();
    await targets.pin.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const off = percentiles(samples.off);
  const pin = percentiles(samples.pin);
  return { tools: TOOLS, rounds: ROUNDS, off, pin, ratioP50: round(pin.p50Ms / off.p50Ms, 3), addedP50Ms: round(pin.p50Ms - off.p50Ms, 3) };
}

/** ToolPins.screen alone, steady state: every definition pinned, fresh objects each time (as after a tools/list). */
function benchScreen() {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-screen-'));
  const db = openDatabase(dataDir);
  try {
    const pins = new ToolPins(new PinStore(db), new Map([['up', { mode: /** @type {const} */ ('pin'), holdNewTools: false }]]), silent);
    const fresh = () => Array.from({ length: TOOLS }, (_, i) => /** @type {import('@modelcontextprotocol/sdk/types.js').Tool} */ (definition(i)));
    const firstStart = performance.now();
    pins.screen('up', fresh());
    const firstMs = performance.now() - firstStart;
    const times = [];
    for (let i = 0; i < 20; i++) {
      const tools = fresh();
      const start = performance.now();
      const listed = pins.screen('up', tools);
      times.push(performance.now() - start);
      if (listed.length !== TOOLS) throw new Error('screen withheld a pinned tool');
    }
    const { p50Ms } = percentiles(times);
    return { tools: TOOLS, firstUseMs: round(firstMs, 3), steadyP50Ms: p50Ms, usPerTool: round((p50Ms * 1000) / TOOLS, 3) };
  } finally {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * mcp-edge.toml: the conformance fixture twice, as upstream "pinned"
 * (pinning = "pin") and "unpinned" (pinning = "off"), names prefixed.
 */
function twoUpstreamsToml() {
  const quote = (/** @type {string} */ v) => JSON.stringify(v);
  const upstream = (/** @type {string} */ id, /** @type {Mode} */ mode) =>
    ['[[upstreams]]', `id = ${quote(id)}`, 'transport = "stdio"', `command = ${quote(process.execPath)}`, `args = [${quote(FIXTURE_MAIN)}, "--stdio"]`, `pinning = "${mode}"`, ''].join('\n');
  return ['[aggregation]', 'prefix_mode = "always"', '', upstream('pinned', 'pin'), upstream('unpinned', 'off')].join('\n');
}

/** @typedef {{ pin: number[]; off: number[]; errors: string[] }} CallSamples */

/**
 * One client's loop: calls the pinned and the unpinned tool in turn until `end`, timing those inside the window.
 * @param {McpHttpClient} client
 * @param {{ from: number; end: number }} window  performance.now() times
 * @param {CallSamples} samples
 * @param {number} first  0: start with the pinned tool, 1: the unpinned one
 */
async function alternate(client, window, samples, first) {
  for (let i = first; performance.now() < window.end; i++) {
    const mode = i % 2 === 0 ? 'pin' : 'off';
    const start = performance.now();
    const result = await client.callTool(mode === 'pin' ? 'pinned__test_simple_text' : 'unpinned__test_simple_text').catch((e) => ({ isError: true, e }));
    const stop = performance.now();
    if (result.isError) samples.errors.push(String(/** @type {{ e?: unknown }} */ (result).e ?? 'tool error'));
    else if (start >= window.from && stop <= window.end) samples[mode].push(stop - start);
  }
}

/**
 * tools/call through one `mcp-edge serve` that fronts the same fixture twice,
 * once pinned and once not: each of CLIENTS clients alternates between the two
 * tools call by call, so both see the same machine at the same moment (two
 * gateway processes side by side differed by up to 20% in an A/A run here:
 * where a process ran mattered more than pinning). The gateway's CPU per
 * call cannot be split by tool; latency per tool can.
 */
async function benchCalls() {
  const gateway = await startEdgeGateway(twoUpstreamsToml());
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS + 4 });
  /** @type {CallSamples} */
  const samples = { pin: [], off: [], errors: [] };
  try {
    const clients = Array.from({ length: CLIENTS }, () => new McpHttpClient(gateway.url, agent));
    await Promise.all(clients.map((c) => c.initialize()));
    const now = performance.now();
    const window = { from: now + 500, end: now + 500 + MEASURE_MS };
    await Promise.all(clients.map((c, i) => alternate(c, window, samples, i % 2)));
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    agent.destroy();
    await gateway.stop();
  }
  const summary = (/** @type {number[]} */ values) => ({ calls: values.length, callsPerSec: round(values.length / (MEASURE_MS / 1000), 0), ...percentiles(values) });
  const pin = summary(samples.pin);
  const off = summary(samples.off);
  return {
    clients: CLIENTS,
    measureMs: MEASURE_MS,
    off,
    pin,
    ratioP50: round(pin.p50Ms / off.p50Ms, 3),
    ratioP99: round(pin.p99Ms / off.p99Ms, 3),
    addedP50Ms: round(pin.p50Ms - off.p50Ms, 3),
    errors: samples.errors.length,
  };
}

const loadAtStart = os.loadavg()[0] ?? 0;
const refresh = await benchRefresh();
process.stderr.write(`refresh of ${TOOLS} tools: off p50 ${refresh.off.p50Ms} ms, pin p50 ${refresh.pin.p50Ms} ms\n`);
const screen = benchScreen();
process.stderr.write(`screen: ${screen.usPerTool} us per tool\n`);
const calls = await benchCalls();
process.stderr.write(`calls x${CLIENTS}: p50 off ${calls.off.p50Ms} ms, pin ${calls.pin.p50Ms} ms\n`);
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'security/pinning',
      machine: { cpus: os.cpus().length, loadAvg1mAtStart: round(loadAtStart, 2), loadAvg1mAtEnd: round(os.loadavg()[0] ?? 0, 2) },
      refresh,
      screen,
      calls,
      note: 'ratios are pin / off from this run; calls alternate call by call between a pinned and an unpinned upstream of one gateway (calls/s are each half of the load)',
    },
    null,
    2,
  )}\n`,
);
