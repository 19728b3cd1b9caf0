// The three ways the bench reaches the same upstream fixture: directly over
// Streamable HTTP, through mcp-edge, and through supergateway (npm) fronting
// the fixture's stdio mode. Each start resolves { name, url, pid, stop }.
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { startProcess } from '../../test/conformance/lib/processes.mjs';
import { FIXTURE_MAIN, startFixtureHttp, startGatewayOverFixture } from '../../test/conformance/lib/targets.mjs';
import { processTree } from './procstat.mjs';

const require = createRequire(import.meta.url);

/** @typedef {{ name: string; url: string; pid: number | undefined; stop: () => Promise<void> }} BenchTarget */

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
 * mcp-edge: an already running gateway given by URL (and pid, for its RSS), or
 * else `mcp-edge serve` started here fronting the fixture over stdio.
 * @param {{ url?: string; pid?: number }} running
 * @returns {Promise<BenchTarget>}
 */
export async function startGateway({ url, pid }) {
  if (url) return { name: 'mcp-edge', url, pid, stop: async () => {} };
  const gateway = await startGatewayOverFixture();
  return { name: 'mcp-edge', ...gateway };
}
