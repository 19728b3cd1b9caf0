// What the conformance suite talks to: the fixture server alone, or mcp-edge
// fronting it. Each start returns { url, stop }.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from './processes.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURE_MAIN = join(ROOT, 'test/fixtures/conformance-server/main.mjs');

/** The fixture over Streamable HTTP on a free 127.0.0.1 port. */
export async function startFixtureHttp() {
  const proc = await startProcess(process.execPath, [FIXTURE_MAIN, '--http', '--port', '0'], {
    ready: /listening (http:\/\/127\.0\.0\.1:\d+\/mcp)/,
    name: 'conformance fixture',
  });
  return { url: proc.match[1], stop: proc.stop, pid: proc.child.pid };
}

/**
 * mcp-edge.toml for the gateway fronting the fixture over stdio. Names are not
 * prefixed ("never"), so the suite finds the tool, prompt and resource names it
 * expects.
 */
export function fixtureUpstreamToml({ id = 'conformance' } = {}) {
  const quote = (s) => JSON.stringify(s); // a JSON string is a valid TOML basic string
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

/** mcp-edge serve fronting the fixture (spawned by the gateway over stdio). */
export async function startGatewayOverFixture(options) {
  return startEdgeGateway(fixtureUpstreamToml(), options);
}

export async function startTarget(name) {
  if (name === 'fixture') return startFixtureHttp();
  if (name === 'gateway') return startGatewayOverFixture();
  throw new Error(`unknown target "${name}"`);
}

export const CLI = join(ROOT, 'host/bin/mcp-edge.js');

/**
 * `mcp-edge serve` on a free 127.0.0.1 port with the given mcp-edge.toml text,
 * its data in a fresh temporary folder. Resolves once it logs its URL.
 */
export async function startEdgeGateway(configToml, { logLevel = 'info' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-gateway-'));
  const configFile = join(dir, 'mcp-edge.toml');
  writeFileSync(configFile, configToml);
  let proc;
  try {
    proc = await startProcess(process.execPath, [
      CLI, 'serve', '--config', configFile, '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--log-level', logLevel,
    ], { ready: /listening \{"url":"(http:\/\/127\.0\.0\.1:\d+\/mcp)"/, name: 'mcp-edge serve', timeoutMs: 30_000 });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: proc.match[1], pid: proc.child.pid, stop, output: proc.output };
}
