// What the conformance suite talks to: the fixture server alone, or mcp-edge
// fronting it. Each start returns { url, stop }.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from './processes.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURE_MAIN = join(ROOT, 'test/fixtures/conformance-server/main.mjs');

/** @typedef {{ url: string; pid: number | undefined; stop: () => Promise<void> }} Target */

/**
 * The URL a process printed when ready: the first group of its ready pattern.
 * @param {import('./processes.mjs').Started} proc
 */
function readyUrl(proc) {
  const url = proc.match?.[1];
  if (!url) throw new Error(`${proc.name} said it was ready without a URL`);
  return url;
}

/**
 * The fixture over Streamable HTTP on a free 127.0.0.1 port.
 * @returns {Promise<Target>}
 */
export async function startFixtureHttp() {
  const proc = await startProcess(process.execPath, [FIXTURE_MAIN, '--http', '--port', '0'], {
    ready: /listening (http:\/\/127\.0\.0\.1:\d+\/mcp)/,
    name: 'conformance fixture',
  });
  return { url: readyUrl(proc), stop: proc.stop, pid: proc.child.pid };
}

/**
 * mcp-edge.toml for the gateway fronting the fixture over stdio. Names are not
 * prefixed ("never"), so the suite finds the tool, prompt and resource names it
 * expects.
 */
export function fixtureUpstreamToml({ id = 'conformance' } = {}) {
  const quote = (/** @type {string} */ s) => JSON.stringify(s); // a JSON string is a valid TOML basic string
  return [
    '[aggregation]',
    'prefix_mode = "never"',
    '',
    '[[upstreams]]',
    `id = ${quote(id)}`,
    'transport = "stdio"',
    `command = ${quote(process.execPath)}`,
    `args = [${quote(FIXTURE_MAIN)}, "--stdio"]`,
    '',
  ].join('\n');
}

/**
 * mcp-edge serve fronting the fixture (spawned by the gateway over stdio).
 * @param {{ logLevel?: string }} [options]
 */
export async function startGatewayOverFixture(options) {
  return startEdgeGateway(fixtureUpstreamToml(), options);
}

/**
 * @param {string} name  fixture or gateway
 * @returns {Promise<Target>}
 */
export async function startTarget(name) {
  if (name === 'fixture') return startFixtureHttp();
  if (name === 'gateway') return startGatewayOverFixture();
  throw new Error(`unknown target "${name}"`);
}

export const CLI = join(ROOT, 'host/bin/mcp-edge.js');

/**
 * `mcp-edge serve` on a free 127.0.0.1 port with the given mcp-edge.toml text,
 * its data in a fresh temporary folder. Resolves once it logs its URL.
 * @param {string} configToml
 * @param {{ logLevel?: string }} [options]
 */
export async function startEdgeGateway(configToml, { logLevel = 'info' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-gateway-'));
  const configFile = join(dir, 'mcp-edge.toml');
  writeFileSync(configFile, configToml);
  /** @type {import('./processes.mjs').Started} */
  let proc;
  try {
    proc = await startProcess(process.execPath, [
      CLI, 'serve', '--config', configFile, '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--log-level', logLevel,
    ], { ready: /listening \{"url":"(https?:\/\/127\.0\.0\.1:\d+\/mcp)"/, name: 'mcp-edge serve', timeoutMs: 30_000 });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: readyUrl(proc), pid: proc.child.pid, stop, output: proc.output };
}
