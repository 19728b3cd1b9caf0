// The mesh's other ways to connect. WebSockets: two nodes that listen on /ws
// only find and call each other. A relay: a node reachable only through a
// relay (circuit relay v2), as a node behind
// NAT is: C listens on "<R>/p2p-circuit" and nowhere else; R relays
// (mesh.relay_service); A knows only R and listens nowhere (a client-only
// node, so C cannot dial it either: on loopback C could, where NAT would let
// it). A's client lists and calls C's tool, over a connection that runs
// through R, the only way the two can meet. A runs with hole_punching = false:
// it does not speak DCUtR, C (the default) does, as each sees of the other.
// Real libp2p nodes on 127.0.0.1.
import { join } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../host/src/config/load.js';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import { MCP_PROTOCOL } from '../host/src/mesh/stream-transport.js';
import { connectClient, eventually, NODE, REPLICA, startGateway, textOf } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];
const DCUTR = '/libp2p/dcutr';

describe('a node behind a relay', async () => {
  const key = join(tempDir('mcp-edge-relay-'), 'mesh.key');
  writeNetworkKey(key);
  const mesh = { enabled: true, network_key_file: key, announce_interval_ms: 300 };
  const relay = await startGateway({ mesh: { ...mesh, listen: LOOPBACK, relay_service: true } });
  const relayAddr = relay.mesh!.addresses()[0]!;
  const hidden = await startGateway({
    upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'C' } }],
    mesh: { ...mesh, listen: [`${relayAddr}/p2p-circuit`], bootstrap: [relayAddr], share: ['whoami'] },
  });
  const a = await startGateway({ mesh: { ...mesh, listen: [], bootstrap: [relayAddr], hole_punching: false } });

  it('listens only through the relay', async () => {
    const addrs = await eventually(() => {
      const now = hidden.mesh!.addresses();
      return now.length > 0 ? now : undefined;
    }, 15_000, 'the relay reservation');
    expect(addrs.every((addr) => addr.startsWith(relayAddr) && addr.includes('/p2p-circuit'))).toBe(true);
  });

  it("is called from A's client, over a connection relayed by R", async () => {
    const client = await connectClient(a);
    await eventually(async () => ((await client.listTools()).tools.some((t) => t.name === 'whoami') ? true : undefined), 20_000, "C's whoami listed on A");
    expect(textOf(await client.callTool({ name: 'whoami' }))).toBe('C');
    const toC = a.mesh!.node.getConnections(peerIdFromString(hidden.mesh!.peerId));
    expect(toC.length).toBeGreaterThan(0);
    expect(toC.every((c) => c.remoteAddr.toString().includes('/p2p-circuit'))).toBe(true);
  });

  it('speaks DCUtR (hole punching) by default, and not with hole_punching = false', async () => {
    const idOfA = peerIdFromString(a.mesh!.peerId);
    const idOfC = peerIdFromString(hidden.mesh!.peerId);
    // Identify tells each side the other's protocols; A met C in the test above.
    const cSeenByA = await a.mesh!.node.peerStore.get(idOfC);
    const aSeenByC = await eventually(() => hidden.mesh!.node.peerStore.get(idOfA).then((p) => (p.protocols.length > 0 ? p : undefined), () => undefined), 10_000, 'A identified by C');
    expect(cSeenByA.protocols).toContain(DCUTR);
    expect(aSeenByC.protocols).not.toContain(DCUTR);
    expect(aSeenByC.protocols).toContain(MCP_PROTOCOL);
  });

  it('relay_service is off by default, and a boolean', () => {
    expect(validateConfig({ mesh: { enabled: true, open: true } }, 'test').mesh.relay_service).toBe(false);
    expect(() => validateConfig({ mesh: { enabled: true, open: true, relay_service: 'yes' } }, 'test')).toThrow(/relay_service/);
  });
});

describe('nodes on WebSockets only', async () => {
  const WS = ['/ip4/127.0.0.1/tcp/0/ws'];
  const c = await startGateway({
    upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'C-ws' } }],
    mesh: { enabled: true, open: true, listen: WS, announce_interval_ms: 300, share: ['whoami'] },
  });
  const cAddr = c.mesh!.addresses()[0]!;
  const a = await startGateway({ mesh: { enabled: true, open: true, listen: WS, announce_interval_ms: 300, bootstrap: [cAddr] } });

  it('listen on /ws, and call each other over it', async () => {
    expect(cAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//);
    const client = await connectClient(a);
    await eventually(async () => ((await client.listTools()).tools.some((t) => t.name === 'whoami') ? true : undefined), 20_000, "C's whoami listed on A");
    expect(textOf(await client.callTool({ name: 'whoami' }))).toBe('C-ws');
    const toC = a.mesh!.node.getConnections(peerIdFromString(c.mesh!.peerId));
    expect(toC.length).toBeGreaterThan(0);
    expect(toC.every((conn) => conn.remoteAddr.toString().includes('/ws'))).toBe(true);
  });
});
