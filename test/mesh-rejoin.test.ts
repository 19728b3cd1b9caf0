// Joining the mesh as edge nodes do: a link whose middlebox forgets it (a NAT
// dropping its state) leaves a half-open connection that looks alive; a node
// that hears no peer over its connections for a while (three announce
// intervals, at least 15 s) closes them and dials its bootstrap peers again.
// A slow link, whose first announcement takes longer than that, is kept.
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startGateway } from './helpers/gateway.js';

const mesh = { enabled: true, open: true, listen: ['/ip4/127.0.0.1/tcp/0'], announce_interval_ms: 300 };
const sockets = new Set<net.Socket>();
const servers: net.Server[] = [];
afterAll(() => {
  sockets.forEach((s) => s.destroy());
  servers.forEach((s) => s.close());
});

/**
 * A TCP relay to `port` standing for a NAT: it forwards each connection both
 * ways, what comes back from `port` `delayMs` late (a slow or loaded link);
 * `blackhole()` makes the connections open now swallow whatever they get, in
 * either direction, without closing anything (the NAT forgot them).
 * Connections made afterwards go through.
 */
async function natTo(port: number, delayMs = 0): Promise<{ port: number; blackhole: () => void; accepted: () => number }> {
  const open = new Set<net.Socket>();
  const silenced = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((inside) => {
    accepted += 1;
    const outside = net.connect(port, '127.0.0.1');
    for (const [from, to] of [
      [inside, outside],
      [outside, inside],
    ] as const) {
      sockets.add(from);
      open.add(from);
      from.on('error', () => undefined);
      // One delay for every chunk: timers of equal duration fire in order, so the bytes stay in order.
      const forward = (chunk: Buffer) => (silenced.has(from) ? undefined : to.write(chunk));
      from.on('data', (chunk: Buffer) => (from === outside && delayMs > 0 ? setTimeout(() => forward(chunk), delayMs) : forward(chunk)));
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackhole: () => open.forEach((s) => silenced.add(s)),
    accepted: () => accepted,
  };
}

describe('rejoining the mesh', () => {
  it('a node whose link went silent (half-open) closes it and joins again', { timeout: 60_000 }, async () => {
    const seed = await startGateway({ mesh });
    const seedAddr = seed.mesh!.addresses()[0]!;
    const seedPort = Number(seedAddr.split('/tcp/')[1]!.split('/')[0]);
    const nat = await natTo(seedPort);
    const throughNat = seedAddr.replace(`/tcp/${seedPort}/`, `/tcp/${nat.port}/`);
    // The node listens nowhere, so the seed cannot dial it back: the NAT is its only way in.
    const node = await startGateway({ mesh: { ...mesh, listen: [], bootstrap: [throughNat] } });
    const hearsSeed = () => (node.mesh!.discovery.entries().some(([peer]) => peer === seed.mesh!.peerId) ? true : undefined);
    await eventually(hearsSeed, 30_000, 'the node to hear the seed through the NAT');
    const [silenced] = node.mesh!.node.getConnections();
    nat.blackhole();
    // The seed leaves the node's directory after three silent intervals; the link is closed (by the
    // node after 15 s quiet, or by libp2p's ping monitor) and the node dials again (the NAT, or the
    // seed's own address it learnt by identify: on loopback both reach it).
    await eventually(() => (hearsSeed() ? undefined : true), 30_000, 'the seed to go silent for the node');
    const overNewLink = () => (hearsSeed() && node.mesh!.node.getConnections().some((c) => c.id !== silenced!.id) ? true : undefined);
    await eventually(overNewLink, 40_000, 'the node to hear the seed again over a new connection');
    expect(node.mesh!.node.getConnections().map((c) => c.id)).not.toContain(silenced!.id);
  });

  // Regression: a node judged its link silent three announce intervals after connecting, before a
  // slow (or loaded) link let it hear its first peer; it closed the link, dialled again, and never
  // joined. The churn test's nodes on a loaded machine stayed out this way.
  it('a node whose first peer is heard only after several announce intervals keeps its link and joins', { timeout: 45_000 }, async () => {
    const seed = await startGateway({ mesh });
    const seedAddr = seed.mesh!.addresses()[0]!;
    const seedPort = Number(seedAddr.split('/tcp/')[1]!.split('/')[0]);
    // 600 ms each way back: the handshake, identify and the first answer take several intervals of 300 ms.
    const nat = await natTo(seedPort, 600);
    const throughNat = seedAddr.replace(`/tcp/${seedPort}/`, `/tcp/${nat.port}/`);
    const node = await startGateway({ mesh: { ...mesh, listen: [], bootstrap: [throughNat] } });
    const hearsSeed = () => (node.mesh!.discovery.entries().some(([peer]) => peer === seed.mesh!.peerId) ? true : undefined);
    await eventually(hearsSeed, 30_000, 'the node to hear the seed over the slow link');
    expect(nat.accepted()).toBe(1);
    expect(node.mesh!.node.getConnections()).toHaveLength(1);
  });
});
