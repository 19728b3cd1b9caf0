// Bytes allocated and promoted per tools/call in a front process: counts that
// do not depend on load. Each front (mcp-edge of this checkout, of --base, and
// the node-floor) runs with alloc-probe.mjs preloaded, takes a warm-up, then
// exactly --calls tools/calls from --clients sessions (closed loop) between two
// signals; the probe sums the heap's growth across the collections of that
// window, and what scavenges moved to the old generation. Also the collections
// per 10k calls, by kind, and the scavenges' pauses. Fronts are measured in
// turn, the order alternating every round; the fixture is shared.
// --sequence yes adds each round's collections in turn: a scavenge as
// "promoted KB/survived KB", another kind by its name.
//
//   node bench/gateway/alloc.mjs [--base /other/checkout] [--calls 10000] [--clients 10] [--rounds 3]
//          [--floor no] [--upstream stdio] [--this-node-flags "--max-semi-space-size=8"] [--sequence yes]
//   node bench/gateway/alloc.mjs --profile all|promoted|live [--sample 512] [--top 40]
//
// --profile: a sampling heap profile of this checkout's gateway over the
// window, bytes per call by allocating function (a builtin is charged to its
// caller). "all": every allocation; "promoted": what outlived a scavenge;
// "live": what is still alive after a full collection at the end. Run it with
// MCP_EDGE_NO_BUNDLE=1 for file names of host/src's modules.
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startProcess, stopAll } from '../../test/conformance/lib/processes.mjs';
import { fixtureUpstreamToml, startFixtureHttp } from '../../test/conformance/lib/targets.mjs';
import { McpHttpClient } from './client.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = fileURLToPath(new URL('alloc-probe.mjs', import.meta.url));
const PROFILES = ['all', 'promoted', 'live'];

/** @param {string[]} argv */
function parseArgs(argv) {
  const options = { base: '', calls: 10_000, clients: 10, rounds: 3, floor: true, upstream: 'http', thisNodeFlags: /** @type {string[]} */ ([]), sequence: false, profile: '', sample: 512, top: 40 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: a value is missing`);
    if (flag === '--base') options.base = value;
    else if (flag === '--calls') options.calls = Number(value);
    else if (flag === '--clients') options.clients = Number(value);
    else if (flag === '--rounds') options.rounds = Number(value);
    else if (flag === '--floor') options.floor = value !== 'no';
    else if (flag === '--upstream') options.upstream = value;
    else if (flag === '--this-node-flags') options.thisNodeFlags = value.split(' ').filter(Boolean);
    else if (flag === '--sequence') options.sequence = value === 'yes';
    else if (flag === '--profile') options.profile = value;
    else if (flag === '--sample') options.sample = Number(value);
    else if (flag === '--top') options.top = Number(value);
    else throw new Error(`unknown argument ${flag}`);
  }
  if (!(Number.isInteger(options.calls) && options.calls >= 100)) throw new Error('--calls: an integer of 100 or more');
  if (!(Number.isInteger(options.clients) && options.clients >= 1 && options.clients <= 1000)) throw new Error('--clients: 1..1000');
  if (!['http', 'stdio'].includes(options.upstream)) throw new Error('--upstream: http or stdio');
  if (options.profile && !PROFILES.includes(options.profile)) throw new Error(`--profile: one of ${PROFILES.join(', ')}`);
  return options;
}

/**
 * @typedef {object} Front
 * @property {string} name
 * @property {string} url
 * @property {import('node:child_process').ChildProcess} child
 * @property {string} out  where the probe writes its JSON
 * @property {() => Promise<void>} stop
 */

/**
 * A front process with the probe preloaded.
 * @param {string} name
 * @param {(dir: string) => string[]} argsIn  the script and its arguments, given a scratch folder
 * @param {{ nodeFlags?: string[]; env?: Record<string, string> }} [options]
 * @returns {Promise<Front>}
 */
async function startFront(name, argsIn, { nodeFlags = [], env = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-alloc-'));
  const out = join(dir, 'probe.json');
  const proc = await startProcess(process.execPath, [...nodeFlags, '--import', PROBE, ...argsIn(dir)], {
    ready: /listening (?:\{"url":")?(http:\/\/127\.0\.0\.1:\d+\/mcp)/, name, timeoutMs: 30_000, env: { ALLOC_PROBE_OUT: out, ...env },
  });
  const url = proc.match?.[1];
  if (!url) throw new Error(`${name}: no URL`);
  return { name, url, child: proc.child, out, stop: async () => (await proc.stop(), rmSync(dir, { recursive: true, force: true })) };
}

/**
 * `mcp-edge serve` of the checkout at `root`, fronting the fixture over HTTP, or a fixture child over stdio.
 * @param {string} name
 * @param {string} root
 * @param {string} fixtureUrl
 * @param {boolean} stdio
 * @param {{ nodeFlags?: string[]; env?: Record<string, string> }} [options]
 */
function startGateway(name, root, fixtureUrl, stdio, options) {
  return startFront(name, (dir) => {
    const config = join(dir, 'mcp-edge.toml');
    const http = ['[aggregation]', 'prefix_mode = "never"', '', '[[upstreams]]', 'id = "conformance"', 'transport = "http"', `url = ${JSON.stringify(fixtureUrl)}`, ''];
    writeFileSync(config, stdio ? fixtureUpstreamToml() : http.join('\n'));
    return [join(root, 'host/bin/mcp-edge.js'), 'serve', '--config', config, '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'data')];
  }, options);
}

/**
 * Exactly `calls` tools/calls over `clients`, each back to back.
 * @param {McpHttpClient[]} clients
 * @param {number} calls
 */
async function callAll(clients, calls) {
  let left = calls;
  await Promise.all(clients.map(async (client) => {
    while (left > 0) {
      left--;
      const result = await client.callTool('test_simple_text', {});
      if (result?.content?.[0]?.type !== 'text') throw new Error(`unexpected result ${JSON.stringify(result).slice(0, 200)}`);
    }
  }));
}

/**
 * @typedef {object} ProbeResult
 * @property {number} allocated
 * @property {number} promoted
 * @property {Record<string, number>} collections
 * @property {Record<string, { total: number; max: number; all: number[] }>} pausesUs
 * @property {number[]} survivedKB
 * @property {number} youngKB
 * @property {string[]} sequence
 * @property {{ head: ProfileNode } | null} profile
 */

/** @typedef {{ callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: ProfileNode[] }} ProfileNode */

/**
 * `calls` tools/calls between the probe's two signals.
 * @param {Front} front
 * @param {McpHttpClient[]} clients
 * @param {number} calls
 * @returns {Promise<ProbeResult>}
 */
async function measure(front, clients, calls) {
  rmSync(front.out, { force: true });
  front.child.kill('SIGUSR2');
  await sleep(200);
  await callAll(clients, calls);
  front.child.kill('SIGUSR2');
  for (let i = 0; i < 600 && !existsSync(front.out); i++) await sleep(50);
  return JSON.parse(readFileSync(front.out, 'utf8'));
}

/** @param {number[]} values */
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? NaN;

/**
 * Bytes per call by allocating function (url:line of the function) and by file, from a sampling heap profile.
 * @param {ProfileNode} head
 * @param {number} calls
 * @param {number} top
 */
function allocators(head, calls, top) {
  /** @type {Map<string, number>} */
  const bySite = new Map();
  /** @param {ProfileNode} node @param {string} caller */
  const walk = (node, caller) => {
    const f = node.callFrame;
    const own = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|host)\//, '$1/')}:${f.lineNumber + 1}`;
    // A builtin (no URL: Map, Promise, then) is charged to the function that called it.
    const where = f.url ? own : `${f.functionName || '(native)'} <- ${caller}`;
    if (node.selfSize) bySite.set(where, (bySite.get(where) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, f.url ? own : caller);
  };
  walk(head, '(root)');
  /** @type {Map<string, number>} */
  const byFile = new Map();
  for (const [site, bytes] of bySite) {
    const file = site.slice(site.lastIndexOf(' ') + 1).replace(/:\d+$/, '');
    byFile.set(file, (byFile.get(file) ?? 0) + bytes);
  }
  const perCall = (/** @type {Map<string, number>} */ map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([where, bytes]) => `${Math.round(bytes / calls)} ${where}`);
  const sampled = [...bySite.values()].reduce((a, b) => a + b, 0);
  return { sampledBytesPerCall: Math.round(sampled / calls), bySite: perCall(bySite), byFile: perCall(byFile) };
}

/**
 * One round's figures for one front.
 * @param {ProbeResult} result
 * @param {number} calls
 */
function figures(result, calls) {
  const per10k = Object.fromEntries(Object.entries(result.collections).map(([kind, n]) => [kind, Math.round((n * 10_000) / calls)]));
  const scavenge = result.pausesUs.Scavenge;
  return {
    bytesPerCall: Math.round(result.allocated / calls),
    promotedPerCall: Math.round(result.promoted / calls),
    collectionsPer10k: per10k,
    scavengeUsPerCall: scavenge ? Math.round((10 * scavenge.total) / calls) / 10 : 0,
    scavengePauseMs: scavenge ? { median: Math.round(median(scavenge.all) / 100) / 10, max: Math.round(scavenge.max / 100) / 10 } : null,
    survivedKBMedian: median(result.survivedKB),
    youngGenerationKB: result.youngKB,
    loadAvg1m: Math.round(100 * (loadavg()[0] ?? NaN)) / 100,
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const fixture = await startFixtureHttp();
  /** @type {Front[]} */
  const fronts = [];
  try {
    const stdio = options.upstream === 'stdio';
    const env = options.profile ? { ALLOC_PROBE_PROFILE: options.profile, ALLOC_PROBE_SAMPLE: String(options.sample) } : undefined;
    fronts.push(await startGateway('this', ROOT, fixture.url, stdio, { nodeFlags: options.thisNodeFlags, ...(env ? { env } : {}) }));
    if (options.base) fronts.push(await startGateway('base', options.base, fixture.url, stdio));
    if (options.floor && !options.profile) fronts.push(await startFront('node-floor', () => [join(ROOT, 'bench/gateway/floor.mjs'), fixture.url]));
    const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients + 4 });
    /** @type {Map<Front, McpHttpClient[]>} */
    const sessions = new Map();
    for (const front of fronts) {
      const clients = Array.from({ length: options.clients }, () => new McpHttpClient(front.url, agent));
      for (const client of clients) await client.initialize();
      await callAll(clients, 3000); // warm-up: JIT, the token vocabulary
      sessions.set(front, clients);
    }
    /** @type {Record<string, ReturnType<typeof figures>[]>} */
    const rows = {};
    for (let round = 0; round < options.rounds; round++) {
      for (const front of round % 2 ? [...fronts].reverse() : fronts) {
        const result = await measure(front, sessions.get(front) ?? [], options.calls);
        (rows[front.name] ??= []).push({ ...figures(result, options.calls), ...(options.sequence ? { sequence: result.sequence.join(' ') } : {}) });
        if (result.profile) process.stdout.write(`${JSON.stringify({ round, profile: options.profile, ...allocators(result.profile.head, options.calls, options.top) }, null, 1)}\n`);
      }
    }
    const medians = Object.fromEntries(Object.entries(rows).map(([name, list]) => [name, { bytesPerCall: median(list.map((r) => r.bytesPerCall)), promotedPerCall: median(list.map((r) => r.promotedPerCall)) }]));
    process.stdout.write(`${JSON.stringify({ calls: options.calls, clients: options.clients, upstream: options.upstream, thisNodeFlags: options.thisNodeFlags, base: options.base || null, medians, rows }, null, 1)}\n`);
  } finally {
    for (const front of fronts) await front.stop();
    await fixture.stop();
    stopAll();
  }
}

await main();
