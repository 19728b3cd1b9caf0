// Joining the mesh as edge nodes do: a link whose middlebox forgets it (a NAT
// dropping its state) leaves a half-open connection that looks alive; a node
// that hears no peer over its connections for three announce intervals closes
// them and dials its bootstrap peers again.
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
 * ways; `blackhole()` makes the connections open now swallow whatever they
 * get, in either direction, without closing anything (the NAT forgot them).
 * Connections made afterwards go through.
 */
async function natTo(port: number): Promise<{ port: number; blackhole: () => void; accepted: () => number }> {
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
      from.on('data', (chunk) => (silenced.has(from) ? undefined : to.write(chunk)));
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
  it('a node whose link went silent (half-open) closes it and joins again', async () => {
    const seed = await startGateway({ mesh });
    const seedAddr = seed.mesh!.addresses()[0]!;
    const seedPort = Number(seedAddr.split('/tcp/')[1]!.split('/')[0]);
    const nat = await natTo(seedPort);
    const throughNat = seedAddr.replace(`/tcp/${seedPort}/`, `/tcp/${nat.port}/`);
    // The node listens nowhere, so the seed cannot dial it back: the NAT is its only way in.
    const node = await startGateway({ mesh: { ...mesh, listen: [], bootstrap: [throughNat] } });
    const hearsSeed = () => (node.mesh!.discovery.entries().some(([peer]) => peer === seed.mesh!.peerId) ? true : undefined);
    await eventually(hearsSeed, 30_000, 'the node to hear the seed through the NAT');
    const before = nat.accepted();
    nat.blackhole();
    // The seed leaves the node's directory after three silent intervals; then the node dials again.
    await eventually(() => (hearsSeed() ? undefined : true), 30_000, 'the seed to go silent for the node');
    await eventually(() => (nat.accepted() > before ? true : undefined), 30_000, 'the node to dial the bootstrap peer again');
    await eventually(hearsSeed, 30_000, 'the node to hear the seed again over a new connection');
  });
});
