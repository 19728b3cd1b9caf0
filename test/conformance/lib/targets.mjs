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

export async function startTarget(name) {
  if (name === 'fixture') return startFixtureHttp();
  throw new Error(`target "${name}" cannot be started yet: mcp-edge cannot front upstream servers on this branch`);
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
  const proc = await startProcess(process.execPath, [
    CLI, 'serve', '--config', configFile, '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--log-level', logLevel,
  ], { ready: /listening \{"url":"(http:\/\/127\.0\.0\.1:\d+\/mcp)"/, name: 'mcp-edge serve', timeoutMs: 30_000 });
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: proc.match[1], pid: proc.child.pid, stop, output: proc.output };
}
