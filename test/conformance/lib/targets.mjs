// What the conformance suite talks to: the fixture server alone, or mcp-edge
// fronting it. Each start returns { url, stop }.
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
