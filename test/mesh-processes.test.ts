// The mesh across processes: three real `mcp-edge serve` processes on
// 127.0.0.1 joined by one network key. A shares nothing; C shares tools of its
// upstream; B (started later) shares a replica of one of them. A's client calls
// through A; C is killed mid-call.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import { eventually, NODE, REPLICA } from './helpers/gateway.js';
import { tempDir, waitForExit } from './helpers/processes.js';
import { startMeshServe, type MeshServe } from './helpers/mesh-serve.js';

const ANNOUNCE_MS = 300;
const dir = tempDir('mcp-edge-mesh-');
const keyFile = join(dir, 'swarm.key');
writeNetworkKey(keyFile);

/** Starts `mcp-edge serve` with a [mesh] section; resolves once it serves HTTP, with its peer id and mesh addresses. */
async function startNode(name: string, mesh: { share?: string[]; bootstrap?: string[] }, replica?: Record<string, string>): Promise<MeshServe> {
  const config = {
    mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], network_key_file: keyFile, announce_interval_ms: ANNOUNCE_MS, call_timeout_ms: 20_000, share: mesh.share ?? [], bootstrap: mesh.bootstrap ?? [] },
    upstreams: replica ? [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: replica }] : [],
  };
  return startMeshServe(dir, name, config);
}

async function clientOf(node: MeshServe): Promise<Client> {
  const client = new Client({ name: 'mesh-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(node.url)));
  return client;
}

interface ProviderRow {
  id: string;
  state: string;
  tools: number;
  routing: { in_flight: number; failures: number };
}

async function providers(client: Client): Promise<ProviderRow[]> {
  const read = await client.readResource({ uri: 'mcp-edge://providers' });
  return (JSON.parse((read.contents[0] as { text: string }).text) as { providers: ProviderRow[] }).providers;
}

const toolNames = async (client: Client): Promise<string[]> => (await client.listTools()).tools.map((t) => t.name).sort();
const textOf = (result: unknown): string => (result as { content: { text: string }[] }).content[0]?.text ?? '';

describe('mesh of three mcp-edge processes', () => {
  let a: MeshServe;
  let c: MeshServe;
  let client: Client;
  beforeAll(async () => {
    a = await startNode('a', {});
    c = await startNode('c', { share: ['whoami', 'write', 'slow'], bootstrap: a.addresses }, { REPLICA_NAME: 'C', HANG_TOOLS: 'whoami' });
    client = await clientOf(a);
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists C's shared tools on A and serves a call from A's client on C", async () => {
    await eventually(async () => ((await toolNames(client)).includes('write') ? true : undefined), 15_000, "C's tools listed on A");
    const names = await toolNames(client);
    expect(names).toEqual(expect.arrayContaining(['slow', 'whoami', 'write']));
    // Only what C shares: its other tools stay on C.
    expect(names).not.toContain('add_tool');
    expect(textOf(await client.callTool({ name: 'write' }))).toBe('C');
    const peerC = (await providers(client)).find((p) => p.id === `peer-${c.peerId}`);
    expect(peerC).toMatchObject({ state: 'up', tools: 3 });
  });

  it('C killed mid-call: the idempotent call fails over to B, the other fails clearly, and C leaves A within a bounded time', async () => {
    const b = await startNode('b', { share: ['whoami'], bootstrap: a.addresses }, { REPLICA_NAME: 'B' });
    await eventually(async () => ((await providers(client)).some((p) => p.id === `peer-${b.peerId}` && p.state === 'up' && p.tools === 1) ? true : undefined), 15_000, 'B up on A');
    // C came first, so with no statistics yet the router tries it first: whoami hangs there, as does slow.
    const inFlightOnC = (n: number) => async () => ((await providers(client)).find((p) => p.id === `peer-${c.peerId}`)?.routing.in_flight === n ? true : undefined);
    const failover = client.callTool({ name: 'whoami' });
    await eventually(inFlightOnC(1), 15_000, 'whoami in flight on C');
    // Caught at once: it fails while the failover is awaited.
    const stuck = client.callTool({ name: 'slow' }).then(() => new Error('slow answered'), (err: Error) => err);
    await eventually(inFlightOnC(2), 15_000, 'slow in flight on C too');
    c.child.kill('SIGKILL');
    await waitForExit(c.child);
    expect(textOf(await failover)).toBe('B');
    expect((await stuck).message).toMatch(new RegExp(`Tool "slow" failed on provider "peer-${c.peerId}": .*the mesh connection to peer ${c.peerId} closed before it answered`));
    // C's own tools leave A's listing (its connection closed; at the latest after three silent announce intervals).
    const started = Date.now();
    await eventually(async () => (!(await toolNames(client)).includes('write') ? true : undefined), 15_000, "C's tools gone from A");
    expect(Date.now() - started).toBeLessThan(3 * ANNOUNCE_MS + 5_000);
    expect(await toolNames(client)).toContain('whoami');
    expect(textOf(await client.callTool({ name: 'whoami' }))).toBe('B');
    const peerC = (await providers(client)).find((p) => p.id === `peer-${c.peerId}`);
    expect(peerC).toMatchObject({ state: 'down', tools: 0 });
  }, 60_000);

  it('C back (same data dir, so the same peer id): its tools return on A and answer', async () => {
    const back = await startNode('c', { share: ['whoami', 'write', 'slow'], bootstrap: a.addresses }, { REPLICA_NAME: 'C' });
    expect(back.peerId).toBe(c.peerId);
    await eventually(async () => ((await toolNames(client)).includes('write') ? true : undefined), 15_000, "C's tools back on A");
    expect(textOf(await client.callTool({ name: 'write' }))).toBe('C');
    expect((await providers(client)).find((p) => p.id === `peer-${c.peerId}`)).toMatchObject({ state: 'up', tools: 3 });
  }, 60_000);
});
