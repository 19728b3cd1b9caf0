#!/usr/bin/env node
// bench/mesh: what one mesh hop costs, how fast "who provides tool X" is
// answered, and what a node costs at idle, in one run on 127.0.0.1.
//
//   1. Remote call: an MCP client calls `ping_tool` on gateway A, which routes
//      it over the mesh to C, against the same client calling the same tool on
//      C directly (the baseline, same transport, same tool, same process).
//      Rounds alternate between the two; the figure is the p50 difference.
//   2. Lookup: with --nodes gateways in the mesh, each shares one tool of its
//      own; a node looks up who provides tools of other nodes (announcements
//      and DHT provider records) and the p50/p99 are reported.
//   3. Idle cost: RSS and CPU of this process per node, over --idle-ms.
//
//   node bench/mesh/run.mjs [--nodes 20] [--calls 300] [--rounds 3] [--lookups 100] [--idle-ms 3000]
//
// Uses the built package (host/dist; `node scripts/run.mjs build`). Prints one
// JSON document and writes it to bench/results/mesh.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generateKey } from '@libp2p/pnet';
import { createGateway, loadCore } from '../../host/dist/index.js';
import { createLogger } from '../../host/dist/telemetry/log.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** Goals of issue 15: one hop adds <= 1 ms p50; lookup p50 <= 50 ms, p99 <= 200 ms. */
const GOALS = { hop_p50_ms: 1, lookup_p50_ms: 50, lookup_p99_ms: 200 };

/** @typedef {{ nodes: number; calls: number; rounds: number; lookups: number; idleMs: number }} Options */

/** @param {string[]} argv @returns {Options} */
function parseArgs(argv) {
  /** @type {Options} */
  const options = { nodes: 20, calls: 300, rounds: 3, lookups: 100, idleMs: 3000 };
  /** @type {Record<string, keyof Options>} */
  const flags = { '--nodes': 'nodes', '--calls': 'calls', '--rounds': 'rounds', '--lookups': 'lookups', '--idle-ms': 'idleMs' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = flags[argv[i] ?? ''];
    if (!key) throw new Error(`unknown argument ${argv[i]}; use ${Object.keys(flags).join(', ')}`);
    options[key] = Number(argv[i + 1]);
  }
  if (!(options.nodes >= 3 && options.nodes <= 100)) throw new Error('--nodes: 3..100');
  return options;
}

/** @param {number[]} values @param {number} p */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const round3 = (/** @type {number} */ v) => Math.round(v * 1000) / 1000;

/** @param {() => boolean | Promise<boolean>} check @param {number} ms @param {string} what */
async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** @param {Client} client @param {number} n @returns {Promise<number[]>} */
async function timeCalls(client, n) {
  const times = [];
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    await client.callTool({ name: 'ping_tool', arguments: {} });
    times.push(performance.now() - started);
  }
  return times;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-mesh-'));
  const keyFile = join(dir, 'swarm.key');
  const key = new Uint8Array(95);
  generateKey(key);
  writeFileSync(keyFile, key);
  const core = await loadCore();
  const logger = createLogger(process.env.MCP_EDGE_BENCH_LOG === 'info' ? 'info' : 'silent');
  /** @type {import('../../host/dist/index.js').Gateway[]} */
  const gateways = [];
  /** @param {number} i @param {string[]} share @param {string[]} bootstrap */
  const start = async (i, share, bootstrap) => {
    const gateway = await createGateway({
      core,
      logger,
      config: {
        gateway: { bind_address: '127.0.0.1:0', data_dir: join(dir, `n${i}`) },
        audit: { enabled: false },
        mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], network_key_file: keyFile, share, bootstrap, announce_interval_ms: 1000 },
      },
    });
    gateway.tools.register({ name: i === 1 ? 'ping_tool' : `tool_${i}`, description: 'Answers at once.', input: { type: 'object' }, handler: () => ({ content: [{ type: 'text', text: 'pong' }] }) });
    gateways.push(gateway);
    return gateway;
  };
  const rssBefore = process.memoryUsage().rss;
  try {
    const a = await start(0, [], []);
    const seed = a.mesh?.addresses() ?? [];
    const c = await start(1, ['ping_tool'], seed);
    for (let i = 2; i < options.nodes; i += 1) await start(i, [`tool_${i}`], seed);
    const viaA = new Client({ name: 'bench', version: '1' });
    await viaA.connect(new StreamableHTTPClientTransport(new URL(a.url)));
    const direct = new Client({ name: 'bench', version: '1' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(c.url)));
    await until(async () => (await viaA.listTools()).tools.some((t) => t.name === 'ping_tool'), 30_000, "C's tool on A");

    // 1. One hop against the direct call, alternating rounds.
    await timeCalls(viaA, 50);
    await timeCalls(direct, 50);
    /** @type {number[]} */ const hop = [];
    /** @type {number[]} */ const base = [];
    for (let r = 0; r < options.rounds; r += 1) {
      base.push(...(await timeCalls(direct, options.calls)));
      hop.push(...(await timeCalls(viaA, options.calls)));
    }

    // 2. Lookups from A of tools that other nodes share (all announced first, so every node is in the DHT).
    const names = Array.from({ length: options.nodes - 2 }, (_, i) => `tool_${i + 2}`);
    const missing = () => names.filter((n) => !a.aggregator.listTools().some((t) => t.name === n));
    await until(() => missing().length === 0, 60_000, 'every tool announced to A').catch((err) => {
      throw new Error(`${err.message}: missing ${missing().join(', ')}; A hears ${a.mesh?.discovery.entries().length} peers, is connected to ${a.mesh?.node.getPeers().length}; each node connects to ${gateways.map((g) => g.mesh?.node.getPeers().length).join(",")}`);
    });
    /** @type {number[]} */ const lookups = [];
    let found = 0;
    for (let i = 0; i < options.lookups; i += 1) {
      const name = names[i % names.length] ?? 'tool_2';
      const started = performance.now();
      const providers = (await a.mesh?.lookup(name)) ?? [];
      lookups.push(performance.now() - started);
      if (providers.length > 0) found += 1;
    }

    // 3. Idle cost.
    const cpu0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, options.idleMs));
    const cpu = process.cpuUsage(cpu0);
    const rssAfter = process.memoryUsage().rss;
    await viaA.close();
    await direct.close();

    const result = {
      bench: 'mesh',
      nodes: options.nodes,
      load_average: os.loadavg().map((v) => round3(v)),
      cpus: os.cpus().length,
      call: {
        calls_each: options.calls * options.rounds,
        direct_p50_ms: round3(percentile(base, 50)),
        via_mesh_p50_ms: round3(percentile(hop, 50)),
        direct_p99_ms: round3(percentile(base, 99)),
        via_mesh_p99_ms: round3(percentile(hop, 99)),
        hop_added_p50_ms: round3(percentile(hop, 50) - percentile(base, 50)),
        ratio_p50: round3(percentile(hop, 50) / percentile(base, 50)),
      },
      lookup: { lookups: options.lookups, resolved: found, p50_ms: round3(percentile(lookups, 50)), p99_ms: round3(percentile(lookups, 99)) },
      idle: {
        rss_per_node_mb: round3((rssAfter - rssBefore) / options.nodes / 2 ** 20),
        cpu_per_node_percent: round3(((cpu.user + cpu.system) / 1000 / options.idleMs / options.nodes) * 100),
      },
      goals: GOALS,
    };
    const text = JSON.stringify(result, null, 2);
    process.stdout.write(text + '\n');
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/mesh.json'), text + '\n');
  } finally {
    await Promise.allSettled(gateways.map((g) => g.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
