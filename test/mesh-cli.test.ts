// `mcp-edge mesh peers|tools|ping` against a running gateway (the real CLI, a
// child process) whose mesh holds a peer sharing one tool; POST /v1/mesh/ping's
// refusals; the commands' errors when the mesh is off or no gateway answers.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { eventually, freePort, NODE, REPLICA, startGateway } from './helpers/gateway.js';
import { CLI } from './helpers/processes.js';

const run = promisify(execFile);
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];

/** The CLI's stdout, or its stderr and exit code when it fails. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

describe('mcp-edge mesh peers, tools and ping', async () => {
  const c = await startGateway({
    upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'C' } }],
    mesh: { enabled: true, open: true, listen: LOOPBACK, announce_interval_ms: 300, share: ['whoami'] },
  });
  const a = await startGateway({ mesh: { enabled: true, open: true, listen: LOOPBACK, announce_interval_ms: 300, bootstrap: c.mesh!.addresses() } });
  const peerC = c.mesh!.peerId;
  await eventually(() => (a.mesh!.discovery.entry(peerC)?.tools.length === 1 ? true : undefined), 15_000, "C's tool heard by A");

  it('peers: this node, then each peer with its state and how many tools it shares', async () => {
    const { code, out } = await cli(['mesh', 'peers', '--url', a.url]);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^this node ${a.mesh!.peerId}, \\d+ connections, 1 peers$`));
    expect(lines[1]).toMatch(new RegExp(`^${peerC}  up  1 tools  heard \\d{4}-`));
  });

  it('tools: each shared tool with its peer and digest', async () => {
    const { code, out } = await cli(['mesh', 'tools', '--url', a.url]);
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`^whoami  ${peerC}  [0-9a-f]{12}  idempotent\\n$`));
  });

  it('ping: the round trip to the peer in ms; a bad or absent peer is a clear error', async () => {
    const { code, out } = await cli(['mesh', 'ping', peerC, '--url', a.url]);
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`^${peerC}: \\d+\\.\\d ms\\n$`));
    const bad = await cli(['mesh', 'ping', 'not-a-peer', '--url', a.url]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/"not-a-peer" is not a peer id/);
    const body = await fetch(a.url.replace(/\/mcp$/, '/v1/mesh/ping'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(body.status).toBe(400);
  });

  it('says when the mesh is off, and when no gateway answers', async () => {
    const plain = await startGateway();
    const off = await cli(['mesh', 'peers', '--url', plain.url]);
    expect(off.code).toBe(1);
    expect(off.err).toMatch(/runs without the mesh/);
    const ping = await fetch(plain.url.replace(/\/mcp$/, '/v1/mesh/ping'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ peer: peerC }) });
    expect(ping.status).toBe(409);
    const nobody = await cli(['mesh', 'tools', '--url', `http://127.0.0.1:${await freePort()}/mcp`]);
    expect(nobody.code).toBe(1);
    expect(nobody.err).toMatch(/no gateway answers at http:\/\/127\.0\.0\.1:\d+ .*start it with "mcp-edge serve", or pass --url/);
  });
});
