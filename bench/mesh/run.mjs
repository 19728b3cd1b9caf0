#!/usr/bin/env node
// bench/mesh: what one mesh hop costs, how fast "who provides tool X" is
// answered, and what a node costs at idle, in one run on 127.0.0.1.
//
//   1. Remote call: an MCP client calls `ping_tool` on gateway A, which routes
//      it over the mesh to C, against the same client calling the same tool on
//      C directly (the baseline, same transport, same tool, same process).
//      Rounds alternate between the two; the figure is the p50 difference.
//   2. Lookup: with --nodes gateways in the mesh, each shares one tool of its
//      own; A looks up who provides tools of other nodes, three ways:
//      - lookup: Mesh.lookup as the gateway answers it (the directory of live
//        peers' announcements; the DHT only on a miss);
//      - dht: the miss path, DHT provider records only, stopping at the first
//        providers found;
//      - dht_full_walk (baseline): the query walked to the end, as lookups
//        did before (the DHT's closest peers all asked).
//   3. Idle cost: RSS and CPU of this process per node, over --idle-ms.
//   event_loop_delay_ms: how late the nodes' one event loop ran over the
//   whole run (p50, p99, max): every figure above includes that queueing.
//
//   node bench/mesh/run.mjs [--nodes 50] [--calls 300] [--rounds 3] [--lookups 200] [--idle-ms 10000] [--announce-ms 10000]
//
// --open 1 runs an open mesh (no network key, so no pnet stream cipher on
// every connection: less CPU for the nodes' one event loop). Private meshes
// no longer exhaust xsalsa20's memory (host/src/mesh/pnet-guard.ts).
// --announce-ms is mesh.announce_interval_ms (10 s is the default; each node
// signs an announcement each interval and every other node checks it, so idle
// CPU grows with nodes / interval). Uses the built package (host/dist;
// `node scripts/run.mjs build`). Prints one JSON document and writes it to
// bench/results/mesh.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generateKey } from '@libp2p/pnet';
import { createGateway, loadCore } from '../../host/dist/index.js';
import { createLogger } from '../../host/dist/telemetry/log.js';
import { toolKey } from '../../host/dist/mesh/discovery.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** Goals of issue 15: one hop adds <= 1 ms p50; lookup p50 <= 50 ms, p99 <= 200 ms. */
const GOALS = { hop_p50_ms: 1, lookup_p50_ms: 50, lookup_p99_ms: 200 };

/** @typedef {{ nodes: number; calls: number; rounds: number; lookups: number; idleMs: number; announceMs: number; open: number }} Options */

/** @param {string[]} argv @returns {Options} */
function parseArgs(argv) {
  /** @type {Options} */
  const options = { nodes: 50, calls: 300, rounds: 3, lookups: 200, idleMs: 10_000, announceMs: 10_000, open: 0 };
  /** @type {Record<string, keyof Options>} */
  const flags = { '--nodes': 'nodes', '--calls': 'calls', '--rounds': 'rounds', '--lookups': 'lookups', '--idle-ms': 'idleMs', '--announce-ms': 'announceMs', '--open': 'open' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = flags[argv[i] ?? ''];
    if (!key) throw new Error(`unknown argument ${argv[i]}; use ${Object.keys(flags).join(', ')}`);
    options[key] = Number(argv[i + 1]);
  }
  if (!(options.nodes >= 3 && options.nodes <= 100)) throw new Error('--nodes: 3..100');
  if (!(options.announceMs >= 100)) throw new Error('--announce-ms: 100 or more');
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
        mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], ...(options.open ? { open: true } : { network_key_file: keyFile }), share, bootstrap, announce_interval_ms: options.announceMs },
      },
    });
    gateway.tools.register({ name: i === 1 ? 'ping_tool' : `tool_${i}`, description: 'Answers at once.', input: { type: 'object' }, handler: () => ({ content: [{ type: 'text', text: 'pong' }] }) });
    gateways.push(gateway);
    return gateway;
  };
  const rssBefore = process.memoryUsage().rss;
  // How long the one event loop of all the nodes was late over the run: every figure below includes that queueing.
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  try {
    const a = await start(0, [], []);
    const seed = a.mesh?.addresses() ?? [];
    const c = await start(1, ['ping_tool'], seed);
    for (let i = 2; i < options.nodes; i += 1) await start(i, [`tool_${i}`], seed);

    // Every node announced to A first (so every node is in the DHT, and the mesh has settled).
    const names = Array.from({ length: options.nodes - 2 }, (_, i) => `tool_${i + 2}`);
    const missing = () => names.filter((n) => !a.aggregator.listTools().some((t) => t.name === n));
    await until(() => missing().length === 0, 120_000, 'every tool announced to A').catch((err) => {
      throw new Error(`${err.message}: missing ${missing().join(', ')}; A hears ${a.mesh?.discovery.entries().length} peers, is connected to ${a.mesh?.node.getPeers().length}; each node connects to ${gateways.map((g) => g.mesh?.node.getPeers().length).join(",")}`);
    });
    // Clients connect once the mesh has settled (an idle session expires).
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

    // 2. Lookups from A of tools that other nodes share.
    const a0 = a.mesh;
    if (!a0) throw new Error('A started without its mesh');
    /** @param {(name: string) => Promise<string[]>} find @param {number} count */
    const timeLookups = async (find, count) => {
      /** @type {number[]} */ const times = [];
      let resolved = 0;
      for (let i = 0; i < count; i += 1) {
        const name = names[i % names.length] ?? 'tool_2';
        const started = performance.now();
        const providers = await find(name);
        times.push(performance.now() - started);
        if (providers.length > 0) resolved += 1;
      }
      return { lookups: count, resolved, p50_ms: round3(percentile(times, 50)), p99_ms: round3(percentile(times, 99)) };
    };
    const self = a0.peerId;
    /** The baseline: the provider query walked to its end (how lookups ran before), 2 s at most. */
    const fullWalk = async (/** @type {string} */ name) => {
      const found = new Set();
      try {
        for await (const p of a0.node.contentRouting.findProviders(toolKey(name), { signal: AbortSignal.timeout(2_000) })) if (p.id.toString() !== self) found.add(p.id.toString());
      } catch {
        // A walk cut off by its 2 s keeps what it found, as the old lookup did.
      }
      return [...found];
    };
    const lookup = await timeLookups((name) => a0.lookup(name), options.lookups);
    const dht = await timeLookups((name) => a0.discovery.dhtProviders(name, 2_000), options.lookups);
    // The baseline walks take up to 2 s each: a sample of them.
    const dhtFullWalk = await timeLookups(fullWalk, Math.min(options.lookups, 40));

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
      event_loop_delay_ms: { p50: round3(loopDelay.percentile(50) / 1e6), p99: round3(loopDelay.percentile(99) / 1e6), max: round3(loopDelay.max / 1e6) },
      call: {
        calls_each: options.calls * options.rounds,
        direct_p50_ms: round3(percentile(base, 50)),
        via_mesh_p50_ms: round3(percentile(hop, 50)),
        direct_p99_ms: round3(percentile(base, 99)),
        via_mesh_p99_ms: round3(percentile(hop, 99)),
        hop_added_p50_ms: round3(percentile(hop, 50) - percentile(base, 50)),
        ratio_p50: round3(percentile(hop, 50) / percentile(base, 50)),
      },
      announce_interval_ms: options.announceMs,
      private_mesh: !options.open,
      lookup,
      lookup_dht: dht,
      lookup_dht_full_walk_baseline: dhtFullWalk,
      idle: {
        rss_per_node_mb: round3((rssAfter - rssBefore) / options.nodes / 2 ** 20),
        cpu_per_node_percent: round3(((cpu.user + cpu.system) / 1000 / options.idleMs / options.nodes) * 100),
      },
      goals: {
        ...GOALS,
        met: {
          hop_p50: percentile(hop, 50) - percentile(base, 50) <= GOALS.hop_p50_ms,
          lookup_p50: lookup.p50_ms <= GOALS.lookup_p50_ms,
          lookup_p99: lookup.p99_ms <= GOALS.lookup_p99_ms,
          lookup_dht_p50: dht.p50_ms <= GOALS.lookup_p50_ms,
          lookup_dht_p99: dht.p99_ms <= GOALS.lookup_p99_ms,
        },
      },
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
