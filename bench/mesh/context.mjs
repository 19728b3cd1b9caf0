#!/usr/bin/env node
// bench/mesh/context.mjs: how fast a shared context space (mesh.context)
// converges once a partition ends, on 127.0.0.1. Two gateways share a space;
// B reaches A only through a TCP forwarder (A announces the forwarder's
// address) that each round cuts, then both write --writes keys (one key in
// common, the rest their own) and a line of a document, then restores.
//
//   live_ms (the baseline, same run): a write on A until B holds it, link up (gossip).
//   reconnect_ms: link restored until B has a connection to A again (B redials
//     its bootstrap peer every announce interval, --announce-ms).
//   converge_ms: link restored until both spaces are equal (issue 15: <= 1 s).
//
//   node bench/mesh/context.mjs [--rounds 10] [--writes 20] [--announce-ms 300]
//
// Uses the built package (host/dist; `node scripts/run.mjs build`). Prints one
// JSON document and writes it to bench/results/mesh-context.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKey } from '@libp2p/pnet';
import { createGateway, loadCore } from '../../host/dist/index.js';
import { createLogger } from '../../host/dist/telemetry/log.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const GOALS = { converge_ms: 1000 };
const SPACE = 'bench';

/** @typedef {{ rounds: number; writes: number; announceMs: number }} Options */

/** @param {string[]} argv @returns {Options} */
function parseArgs(argv) {
  /** @type {Options} */
  const options = { rounds: 10, writes: 20, announceMs: 300 };
  /** @type {Record<string, keyof Options>} */
  const flags = { '--rounds': 'rounds', '--writes': 'writes', '--announce-ms': 'announceMs' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = flags[argv[i] ?? ''];
    if (!key) throw new Error(`unknown argument ${argv[i]}; use ${Object.keys(flags).join(', ')}`);
    options[key] = Number(argv[i + 1]);
  }
  if (!(options.rounds >= 1 && options.writes >= 1 && options.announceMs >= 100)) throw new Error('--rounds >= 1, --writes >= 1, --announce-ms >= 100');
  return options;
}

/** @param {number[]} values @param {number} p */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const round1 = (/** @type {number} */ v) => Math.round(v * 10) / 10;

/** Resolves once `check` holds (polled every 2 ms); the time it took in ms. @param {() => boolean} check @param {string} what */
async function timeUntil(check, what, ms = 20_000) {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - started;
}

/** A TCP forwarder to `target` whose connections cut() resets (refusing new ones until restore()). */
async function forwarder() {
  const state = { target: 0, cut: false };
  /** @type {Set<net.Socket>} */
  const sockets = new Set();
  const server = net.createServer((inside) => {
    if (state.cut) return void inside.resetAndDestroy();
    const outside = net.connect(state.target, '127.0.0.1');
    /** @type {[net.Socket, net.Socket][]} */
    const ways = [
      [inside, outside],
      [outside, inside],
    ];
    for (const [from, to] of ways) {
      sockets.add(from);
      from.on('error', () => undefined);
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  return {
    port: /** @type {net.AddressInfo} */ (server.address()).port,
    state,
    cut: () => {
      state.cut = true;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore: () => void (state.cut = false),
    close: () => server.close(),
  };
}

/** A free TCP port on 127.0.0.1. */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return port;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-context-'));
  const keyFile = join(dir, 'swarm.key');
  const key = new Uint8Array(95);
  generateKey(key);
  writeFileSync(keyFile, key);
  const core = await loadCore();
  const logger = createLogger('silent');
  const link = await forwarder();
  link.state.target = await freePort();
  /** @type {import('../../host/dist/index.js').Gateway[]} */
  const gateways = [];
  /** @param {string} name @param {Record<string, unknown>} mesh */
  const start = async (name, mesh) => {
    const config = {
      gateway: { bind_address: '127.0.0.1:0', data_dir: join(dir, name) },
      audit: { enabled: false },
      mesh: { enabled: true, network_key_file: keyFile, announce_interval_ms: options.announceMs, context: [SPACE], ...mesh },
    };
    const gateway = await createGateway({ core, logger, config });
    gateways.push(gateway);
    return gateway;
  };
  try {
    const a = await start('a', { listen: [`/ip4/127.0.0.1/tcp/${link.state.target}`], announce: [`/ip4/127.0.0.1/tcp/${link.port}`] });
    const b = await start('b', { listen: [], bootstrap: a.mesh?.addresses() ?? [] });
    const spaceA = a.mesh?.context?.space(SPACE);
    const spaceB = b.mesh?.context?.space(SPACE);
    if (!spaceA || !spaceB) throw new Error('the context space did not start');
    const same = () => JSON.stringify(spaceA.snapshot()) === JSON.stringify(spaceB.snapshot());
    const connected = () => (b.mesh?.node.getConnections().length ?? 0) > 0;
    await timeUntil(connected, 'B to join A');

    /** @type {number[]} */ const live = [];
    /** @type {number[]} */ const reconnect = [];
    /** @type {number[]} */ const converge = [];
    for (let round = 0; round < options.rounds; round += 1) {
      for (let i = 0; i < 5; i += 1) {
        const started = performance.now();
        spaceA.set('live', { round, i });
        await timeUntil(() => JSON.stringify(spaceB.value('live')) === JSON.stringify({ round, i }), 'a live write to reach B');
        live.push(performance.now() - started);
      }
      link.cut();
      await timeUntil(() => !connected() && (a.mesh?.node.getConnections().length ?? 0) === 0, 'A and B apart');
      for (let i = 0; i < options.writes; i += 1) {
        spaceA.set(`a-${round}-${i}`, i);
        spaceB.set(`b-${round}-${i}`, i);
      }
      spaceA.set('common', `A ${round}`);
      spaceB.set('common', `B ${round}`);
      spaceA.append('log', `A ${round}\n`);
      spaceB.append('log', `B ${round}\n`);
      const restored = performance.now();
      link.restore();
      await timeUntil(connected, 'B to reconnect');
      reconnect.push(performance.now() - restored);
      await timeUntil(same, 'A and B to converge');
      converge.push(performance.now() - restored);
    }
    const summary = (/** @type {number[]} */ v) => ({ p50: round1(percentile(v, 50)), max: round1(Math.max(...v)) });
    const result = {
      bench: 'mesh-context',
      rounds: options.rounds,
      writes_per_side: options.writes + 2,
      announce_interval_ms: options.announceMs,
      load_average: os.loadavg().map((v) => round1(v)),
      cpus: os.cpus().length,
      live_ms: summary(live),
      reconnect_ms: summary(reconnect),
      converge_ms: summary(converge),
      exchange_after_reconnect_ms: summary(converge.map((c, i) => c - (reconnect[i] ?? 0))),
      goals: GOALS,
    };
    const text = JSON.stringify(result, null, 2);
    process.stdout.write(text + '\n');
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/mesh-context.json'), text + '\n');
  } finally {
    await Promise.allSettled(gateways.map((g) => g.close()));
    link.cut();
    link.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
