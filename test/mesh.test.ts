// The mesh in one process: real libp2p nodes on 127.0.0.1 under real gateways.
// C shares tools of its upstreams; A's client lists and calls them through A,
// with progress, cancellation, errors and timeouts as an upstream call has them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../host/src/config/load.js';
import { resolveSettings } from '../host/src/config/resolve.js';
import { toolKey } from '../host/src/mesh/discovery.js';
import { loadIdentity, writeNetworkKey } from '../host/src/mesh/identity.js';
import { meshIdentityFile } from '../host/src/config/mesh-settings.js';
import { MCP_PROTOCOL, StreamTransport } from '../host/src/mesh/stream-transport.js';
import { toolDigest } from '../host/src/security/pinning/digest.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import { connectClient, eventually, EVERYTHING, freePort, NODE, REPLICA, startGateway } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';
import { docPage } from './helpers/docs.js';
import { PROVIDER_UNAVAILABLE } from '../host/src/protocol/jsonrpc.js';

const keys = tempDir('mcp-edge-mesh-keys-');
function networkKey(name: string): string {
  const file = join(keys, `${name}.key`);
  writeNetworkKey(file);
  return file;
}

type MeshInput = NonNullable<EdgeConfigInput['mesh']>;
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];

function meshGateway(mesh: MeshInput, upstreams: EdgeConfigInput['upstreams'] = []): Promise<Gateway> {
  return startGateway({ upstreams, mesh: { enabled: true, listen: LOOPBACK, announce_interval_ms: 300, ...mesh } });
}

const replicaC = [
  { id: 'up', transport: 'stdio' as const, command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'C' } },
  { id: 'ev', transport: 'stdio' as const, command: NODE, args: [EVERYTHING] },
];

const textOf = (result: unknown): string => (result as { content: { text: string }[] }).content[0]?.text ?? '';
const listed = async (client: Client, name: string) => ((await client.listTools()).tools.some((t) => t.name === name) ? true : undefined);

describe('a mesh of gateways in one process', () => {
  const key = networkKey('mesh');
  let c: Gateway;
  let a: Gateway;
  let aShort: Gateway;
  let client: Client;
  let onC: Client;
  beforeAll(async () => {
    c = await meshGateway({ network_key_file: key, share: ['whoami', 'write', 'slow', 'echo', 'trigger-long-running-operation'] }, replicaC);
    a = await meshGateway({ network_key_file: key, bootstrap: c.mesh!.addresses() });
    aShort = await meshGateway({ network_key_file: key, bootstrap: c.mesh!.addresses(), call_timeout_ms: 500 });
    client = await connectClient(a);
    onC = await connectClient(c);
    await eventually(() => listed(client, 'slow'), 15_000, "C's tools on A");
  }, 60_000);

  it("lists only what C shares, calls it from A's client, and relays progress in order", async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'slow', 'trigger-long-running-operation', 'whoami', 'write']));
    expect(names).not.toContain('add_tool');
    expect(names).not.toContain('waiting');
    expect(textOf(await client.callTool({ name: 'whoami' }))).toBe('C');
    const progress: number[] = [];
    await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(progress).toEqual([1, 2, 3]);
  });

  it('lists the mesh and its digests, and finds who provides a tool in announcements and in the DHT', async () => {
    const read = await client.readResource({ uri: 'mcp-edge://mesh' });
    const report = JSON.parse((read.contents[0] as { text: string }).text) as { peer_id: string; peers: { peer_id: string; state: string; tools: { name: string; digest: string; idempotent: boolean }[] }[] };
    expect(report.peer_id).toBe(a.mesh!.peerId);
    const peerC = report.peers.find((p) => p.peer_id === c.mesh!.peerId)!;
    const whoamiOnC = (await onC.listTools()).tools.find((t) => t.name === 'whoami')!;
    expect(peerC.state).toBe('up');
    expect(peerC.tools.find((t) => t.name === 'whoami')).toEqual({ name: 'whoami', digest: toolDigest(whoamiOnC as Tool).digest, idempotent: true });
    expect(peerC.tools.find((t) => t.name === 'write')?.idempotent).toBe(false);
    const providers = await client.readResource({ uri: 'mcp-edge://mesh/providers/whoami' });
    expect(JSON.parse((providers.contents[0] as { text: string }).text)).toEqual({ tool: 'whoami', providers: [c.mesh!.peerId] });
    // The DHT alone: C's provider record, found by A.
    const fromDht = await eventually(async () => {
      const found: string[] = [];
      for await (const p of a.mesh!.node.contentRouting.findProviders(toolKey('whoami'), { signal: AbortSignal.timeout(2_000) })) found.push(p.id.toString());
      return found.includes(c.mesh!.peerId) ? found : undefined;
    }, 15_000, "C's provider record in the DHT");
    expect(fromDht).toContain(c.mesh!.peerId);
  });

  it('counts peers, tools, remote calls and lookups in GET /metrics', async () => {
    await client.callTool({ name: 'whoami' });
    await client.readResource({ uri: 'mcp-edge://mesh/providers/whoami' });
    const metrics = await (await fetch(a.url.replace(/\/mcp$/, '/metrics'))).text();
    // C, and the second A (which shares nothing but announces so).
    expect(metrics).toMatch(/^mcp_edge_mesh_peers\{state="up"\} 2$/m);
    expect(metrics).toMatch(/^mcp_edge_mesh_remote_tools 5$/m);
    expect(metrics).toMatch(/^mcp_edge_mesh_shared_tools 0$/m);
    expect(Number(/^mcp_edge_mesh_calls_total\{outcome="ok"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^mcp_edge_mesh_lookups_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^mcp_edge_mesh_connections (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    const onCMetrics = await (await fetch(c.url.replace(/\/mcp$/, '/metrics'))).text();
    expect(onCMetrics).toMatch(/^mcp_edge_mesh_shared_tools 5$/m);
  });

  it('passes a cancellation on to C', async () => {
    const before = Number(textOf(await onC.callTool({ name: 'cancelled' })));
    const abort = new AbortController();
    const call = client.callTool({ name: 'slow' }, undefined, { signal: abort.signal }).catch((err: Error) => err);
    await eventually(async () => (textOf(await onC.callTool({ name: 'waiting' })) === '1' ? true : undefined), 10_000, 'slow waiting on C');
    abort.abort();
    expect(await call).toBeInstanceOf(Error);
    await eventually(async () => (Number(textOf(await onC.callTool({ name: 'cancelled' }))) === before + 1 ? true : undefined), 10_000, 'slow cancelled on C');
  });

  it('times out a call C does not answer, with the timeout code, and cancels it on C', async () => {
    const shortClient = await connectClient(aShort);
    await eventually(() => listed(shortClient, 'slow'), 15_000, "C's tools on the second A");
    const before = Number(textOf(await onC.callTool({ name: 'cancelled' })));
    const err = await shortClient.callTool({ name: 'slow' }).then(() => undefined, (e: Error & { code?: number }) => e);
    expect(err?.code).toBe(-32001);
    expect(err?.message).toMatch(/sent nothing for 500 ms \(mesh\.call_timeout_ms\)/);
    await eventually(async () => (Number(textOf(await onC.callTool({ name: 'cancelled' }))) === before + 1 ? true : undefined), 10_000, 'slow cancelled on C after the timeout');
  });

  it("answers errors as C's upstream does", async () => {
    const direct = await onC.callTool({ name: 'echo', arguments: {} }).then((r) => r, (e: Error) => ({ error: e.message }));
    const viaMesh = await client.callTool({ name: 'echo', arguments: {} }).then((r) => r, (e: Error) => ({ error: e.message }));
    expect(viaMesh).toEqual(direct);
    expect(JSON.stringify(direct)).toMatch(/message/);
  });

  it('refuses a tool C does not share, even to a peer that asks for it by name', async () => {
    const stream = await a.mesh!.node.dialProtocol(peerIdFromString(c.mesh!.peerId), MCP_PROTOCOL);
    const raw = new Client({ name: 'raw-peer', version: '1.0.0' });
    await raw.connect(new StreamTransport(stream));
    await expect(raw.callTool({ name: 'add_tool', arguments: { tool: 'x' } })).rejects.toThrow(/Tool "add_tool" is not shared with the mesh by this node/);
    expect((await raw.listTools()).tools.map((t) => t.name).sort()).toEqual(['echo', 'slow', 'trigger-long-running-operation', 'whoami', 'write']);
    await raw.close();
  });

  // Regressions: a peer's line past the SDK ReadBuffer's 10 MiB ended C's process (the buffer's throw left the
  // stream's listener uncaught; vitest reports it as an unhandled error), and
  // a call with deeply nested arguments reached C's audit writer, whose stack overflowed (protocol/json-depth.ts).
  it('ends a stream whose peer sends a message past 64 MiB, refuses a call nested too deep, and serves the next stream', { timeout: 30_000 }, async () => {
    const flood = await a.mesh!.node.dialProtocol(peerIdFromString(c.mesh!.peerId), MCP_PROTOCOL);
    const chunk = new Uint8Array(256 * 1024).fill(0x78);
    let sent = 0;
    try {
      while (sent <= 96 * 1024 * 1024 && flood.status === 'open') {
        if (!flood.send(chunk)) await flood.onDrain({ signal: AbortSignal.timeout(10_000) });
        sent += chunk.length;
      }
    } catch {
      // The stream was ended under the sender: what the test waits for.
    }
    await eventually(() => (flood.status !== 'open' ? true : undefined), 10_000, 'the flooding stream ended by C');
    const raw = new Client({ name: 'raw-peer', version: '1.0.0' });
    await raw.connect(new StreamTransport(await a.mesh!.node.dialProtocol(peerIdFromString(c.mesh!.peerId), MCP_PROTOCOL)));
    // 1,000 levels: past the limit, and within what the SDK's client here can write.
    const nested = JSON.parse(`${'['.repeat(1000)}${']'.repeat(1000)}`) as unknown;
    await expect(raw.callTool({ name: 'echo', arguments: { tree: nested } })).rejects.toThrow(/nests objects and arrays more than 128 levels deep/);
    expect((await raw.listTools()).tools.map((t) => t.name)).toContain('echo');
    await raw.close();
  });

  it('keeps out a node without the network key, and one the allowlist does not name', async () => {
    const outsider = await meshGateway({ network_key_file: networkKey('other') });
    await expect(outsider.mesh!.node.dial(multiaddr(c.mesh!.addresses()[0]!), { signal: AbortSignal.timeout(5_000) }).then(() => 'connected')).rejects.toThrow();
    expect(c.mesh!.node.getPeers().map(String)).not.toContain(outsider.mesh!.peerId);
    const guarded = await meshGateway({ network_key_file: key, allowed_peers: [c.mesh!.peerId], bootstrap: c.mesh!.addresses() });
    await eventually(() => (guarded.mesh!.peers.has(c.mesh!.peerId) ? true : undefined), 15_000, 'C, which the allowlist names, joins');
    // The stranger has the key, so its own side of the handshake completes; the guarded node drops it then.
    const stranger = await meshGateway({ network_key_file: key });
    const guardedId = peerIdFromString(guarded.mesh!.peerId);
    const opened = await stranger.mesh!.node.dial(multiaddr(guarded.mesh!.addresses()[0]!), { signal: AbortSignal.timeout(5_000) }).then(
      (conn) => conn.status,
      (err: Error) => err.message,
    );
    expect(typeof opened).toBe('string');
    await eventually(() => (stranger.mesh!.node.getConnections(guardedId).length === 0 ? true : undefined), 5_000, "the guarded node's refusal");
    await expect(stranger.mesh!.node.dialProtocol(guardedId, MCP_PROTOCOL, { signal: AbortSignal.timeout(2_000) }).then(() => 'opened')).rejects.toThrow();
    expect(guarded.mesh!.node.getPeers().map(String)).not.toContain(stranger.mesh!.peerId);
  });
});

describe('a peer that drops the MCP session before it opens', () => {
  it('fails the call with a link error that names the session, not a bare "Connection closed"', async () => {
    const key = networkKey('drop');
    const c = await meshGateway({ network_key_file: key, share: ['whoami'] }, replicaC.slice(0, 1));
    const a = await meshGateway({ network_key_file: key, bootstrap: c.mesh!.addresses() });
    const client = await connectClient(a);
    await eventually(() => listed(client, 'whoami'), 15_000, "C's whoami on A");
    // C takes the stream and resets it before initialize: the stream opens, the session never does.
    const node = c.mesh!.node;
    expect(node.getProtocols()).toContain(MCP_PROTOCOL);
    await node.unhandle(MCP_PROTOCOL);
    await node.handle(MCP_PROTOCOL, (stream) => stream.abort(new Error('dropped by the test')));
    const err = await client.callTool({ name: 'whoami' }).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    // whoami is idempotent and C its only provider: unavailable, with C's link failure as the reason.
    expect(err?.code).toBe(PROVIDER_UNAVAILABLE);
    expect(err?.message).toMatch(/the last said: MCP error -32000: cannot open an MCP session with peer \w+: /);
  });
});

describe('boot order', () => {
  it('a node whose bootstrap peer is not up yet joins once it is', async () => {
    const key = networkKey('boot');
    // A's identity and port are known before it starts, as in a deployed config.
    const aDir = tempDir();
    const aId = peerIdFromPrivateKey(await loadIdentity(meshIdentityFile(aDir))).toString();
    const port = await freePort();
    const c = await meshGateway({ network_key_file: key, share: ['whoami'], bootstrap: [`/ip4/127.0.0.1/tcp/${port}/p2p/${aId}`] }, replicaC.slice(0, 1));
    // libp2p's bootstrap module dials once, a moment after start: let that dial fail first.
    // Discovery puts A in C's peer store; asked of the store, not an event, which may have fired before this line.
    await eventually(async () => ((await c.mesh!.node.peerStore.has(peerIdFromString(aId))) ? true : undefined), 10_000, 'C to learn of A from its bootstrap list');
    await eventually(() => (c.mesh!.node.getDialQueue().length === 0 ? true : undefined), 10_000, "C's first dial to A to fail");
    expect(c.mesh!.node.getConnections()).toHaveLength(0);
    const a = await startGateway({ gateway: { data_dir: aDir }, mesh: { enabled: true, listen: [`/ip4/127.0.0.1/tcp/${port}`], network_key_file: key, announce_interval_ms: 300 } });
    const client = await connectClient(a);
    await eventually(() => listed(client, 'whoami'), 15_000, "C's tools on A after A came up");
    expect(textOf(await client.callTool({ name: 'whoami' }))).toBe('C');
  });
});

describe('[mesh] config', () => {
  it('is private by default: an enabled mesh needs a network key or an explicit open = true', () => {
    expect(() => validateConfig({ mesh: { enabled: true } }, 'test')).toThrow(/private by default: set mesh.network_key_file .* or set mesh.open = true/);
    expect(() => validateConfig({ mesh: { enabled: true, open: true, network_key_file: '/x' } }, 'test')).toThrow(/contradict/);
    expect(validateConfig({ mesh: { enabled: true, open: true } }, 'test').mesh.share).toEqual([]);
  });

  it('accepts the docs/mesh.md example as written', () => {
    const config = parseConfig(docPage('docs/mesh.md').example('mesh', 'toml'), 'docs/mesh.md', {});
    expect(config.mesh).toMatchObject({ enabled: true, network_key_file: '/etc/mcp-edge/mesh.key', share: ['whoami', 'read_sensor'], open: false });
    expect(resolveSettings(config).mesh?.bootstrap).toHaveLength(1);
  });

  it('stops the gateway with a clear error when the mesh cannot listen', async () => {
    const first = await startGateway({ mesh: { enabled: true, open: true, listen: LOOPBACK } });
    const taken = first.mesh!.addresses()[0]!.replace(/\/p2p\/.*$/, '');
    await expect(startGateway({ mesh: { enabled: true, open: true, listen: [taken] } })).rejects.toThrow(new RegExp(`^the mesh cannot start: ${taken}: listen EADDRINUSE: address already in use [0-9.:]+; check mesh.listen \\(another process on the port\\?\\)$`));
  });

  it('refuses a file that is not a swarm key, and keeps the peer id across restarts', async () => {
    const bad = join(keys, 'bad.key');
    writeFileSync(bad, 'not a key');
    await expect(meshGateway({ network_key_file: bad })).rejects.toThrow(/is not a swarm key/);
    const dataDir = tempDir();
    const first = await startGateway({ gateway: { data_dir: dataDir }, mesh: { enabled: true, open: true, listen: LOOPBACK } });
    const id = first.mesh!.peerId;
    await first.close();
    const second = await startGateway({ gateway: { data_dir: dataDir }, mesh: { enabled: true, open: true, listen: LOOPBACK } });
    expect(second.mesh!.peerId).toBe(id);
  });
});
