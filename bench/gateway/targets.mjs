// The ways the bench reaches the same upstream fixture: directly over
// Streamable HTTP; through mcp-edge fronting that same fixture process over
// Streamable HTTP (the headline) or a fixture child over stdio; through the
// peers: supergateway and mcp-proxy (npm, each fronting the fixture's stdio
// mode, the only upstream they take) and IBM's ContextForge (contextforge.mjs,
// fronting the fixture over Streamable HTTP). Each start resolves
// { name, url, pid, stop }.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createConnection, createServer } from 'node:net';
import { startProcess } from '../../test/conformance/lib/processes.mjs';
import { FIXTURE_MAIN, fixtureUpstreamToml, startEdgeGateway, startFixtureHttp } from '../../test/conformance/lib/targets.mjs';
import { processTree } from './procstat.mjs';

const require = createRequire(import.meta.url);

/** Where bench/gateway/install-peers.sh puts the peers (never installed at test time). */
export const PEERS = process.env.MCP_EDGE_BENCH_PEERS ?? join(homedir(), '.cache/mcp-edge-bench');

/**
 * `tool`: the fixture's test_simple_text under the target's name for it; `headers`: the credential it asks for.
 * @typedef {{ name: string; url: string; pid: number | undefined; stop: () => Promise<void>; tool?: string; headers?: Record<string, string> }} BenchTarget
 */

export async function freePort() {
  const server = createServer();
  await /** @type {Promise<void>} */ (new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Polls until something accepts TCP on 127.0.0.1:port, or throws after timeoutMs.
 * @param {number} port
 */
async function waitForPort(port, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => (socket.end(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** @returns {Promise<BenchTarget>} */
export async function startDirect() {
  const fixture = await startFixtureHttp();
  return { name: 'direct', ...fixture };
}

/**
 * Killing a process group misses children spawned detached: stop those by pid.
 * @param {import('../../test/conformance/lib/processes.mjs').Started} proc
 */
async function stopTree(proc) {
  const descendants = proc.child.pid === undefined ? [] : processTree(proc.child.pid).slice(1);
  await proc.stop();
  for (const pid of descendants) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** @returns {Promise<BenchTarget>} */
export async function startSupergateway() {
  const port = await freePort();
  const bin = require.resolve('supergateway/dist/index.js');
  const stdioCommand = `'${process.execPath}' '${FIXTURE_MAIN}' --stdio`;
  // Stateful: one fixture child per session, its only multi-client Streamable
  // HTTP mode (stateless spawns a child per POST).
  const proc = await startProcess(process.execPath, [
    bin, '--stdio', stdioCommand, '--outputTransport', 'streamableHttp', '--stateful',
    '--port', String(port), '--logLevel', 'none',
  ], { name: 'supergateway' });
  await waitForPort(port);
  return { name: 'supergateway', url: `http://127.0.0.1:${port}/mcp`, pid: proc.child.pid, stop: () => stopTree(proc) };
}

/**
 * mcp-proxy (npm) fronting the fixture over stdio, as its README shows
 * (`mcp-proxy --port P -- command args`); Streamable HTTP on /mcp, a session
 * (and a fixture child) per client. Installed by bench/gateway/install-peers.sh.
 * @returns {Promise<BenchTarget>}
 */
export async function startMcpProxy() {
  const bin = join(PEERS, 'npm/node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs');
  if (!existsSync(bin)) throw new Error(`mcp-proxy is not installed (${bin}); run bench/gateway/install-peers.sh`);
  const port = await freePort();
  const proc = await startProcess(process.execPath, [
    bin, '--port', String(port), '--server', 'stream', '--', process.execPath, FIXTURE_MAIN, '--stdio',
  ], { name: 'mcp-proxy' });
  await waitForPort(port);
  return { name: 'mcp-proxy', url: `http://127.0.0.1:${port}/mcp`, pid: proc.child.pid, stop: () => stopTree(proc) };
}

/**
 * The floor (floor.mjs): a plain node:http forwarder in front of the running
 * fixture at `fixtureUrl`, the least one more Node hop costs here.
 * @param {string} fixtureUrl
 * @returns {Promise<BenchTarget>}
 */
export async function startFloor(fixtureUrl) {
  return startForwarder('node-floor', 'floor.mjs', fixtureUrl);
}

/**
 * The raw-socket floor (floor-net.mjs): the node-floor's work without
 * node:http, in front of that same fixture: how much of the floor is node:http.
 * @param {string} fixtureUrl
 * @returns {Promise<BenchTarget>}
 */
export async function startNetFloor(fixtureUrl) {
  return startForwarder('net-floor', 'floor-net.mjs', fixtureUrl);
}

/**
 * The llhttp floor (floor-llhttp.mjs): the net-floor with its requests parsed
 * by node:http's own parser, without node:http's request and response objects.
 * @param {string} fixtureUrl
 * @returns {Promise<BenchTarget>}
 */
export async function startLlhttpFloor(fixtureUrl) {
  return startForwarder('llhttp-floor', 'floor-llhttp.mjs', fixtureUrl);
}

/**
 * @param {string} name
 * @param {string} script  next to this file
 * @param {string} fixtureUrl
 * @returns {Promise<BenchTarget>}
 */
async function startForwarder(name, script, fixtureUrl) {
  const proc = await startProcess(process.execPath, [join(import.meta.dirname, script), fixtureUrl], {
    ready: /listening (http:\/\/127\.0\.0\.1:\d+\/mcp)/, name,
  });
  const url = proc.match?.[1];
  if (!url) throw new Error(`${name} printed no URL`);
  return { name, url, pid: proc.child.pid, stop: proc.stop };
}

/** mcp-edge.toml for the gateway fronting a running fixture over Streamable HTTP (`transport = "http"`). */
function httpUpstreamToml(/** @type {string} */ fixtureUrl) {
  return ['[aggregation]', 'prefix_mode = "never"', '', '[[upstreams]]', 'id = "conformance"', 'transport = "http"', `url = ${JSON.stringify(fixtureUrl)}`, ''].join('\n');
}

/**
 * mcp-edge: an already running gateway given by URL (and pid, for its CPU and
 * RSS), or else `mcp-edge serve` started here fronting the running fixture at
 * `fixtureUrl` over Streamable HTTP (name "mcp-edge", the headline), or a
 * fixture child over stdio (name "mcp-edge-stdio").
 * @param {{ url?: string; pid?: number }} running
 * @param {{ fixtureUrl?: string }} upstream
 * @returns {Promise<BenchTarget>}
 */
export async function startGateway({ url, pid }, { fixtureUrl }) {
  if (url) return { name: 'mcp-edge', url, pid, stop: async () => {} };
  const gateway = await startEdgeGateway(fixtureUrl ? httpUpstreamToml(fixtureUrl) : fixtureUpstreamToml());
  return { name: fixtureUrl ? 'mcp-edge' : 'mcp-edge-stdio', ...gateway };
}
