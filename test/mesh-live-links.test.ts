// Issue 15: under churn a live peer's link closed mid-call, and the call failed.
// Two things closed live links, each reproduced here on two nodes:
//
// - libp2p's connection monitor pings every connection every 10 s and aborts
//   it when its ping stream fails for any reason. libp2p's ping service
//   allowed one outbound ping stream per connection (two inbound) and answered
//   for 10 s; kad-dht pings each new contact over the same protocol. On a
//   loaded node, where that ping was still open at the next heartbeat, the
//   monitor's stream was refused (TooManyOutboundProtocolStreamsError, 2/1)
//   and the connection aborted; a slow answer cut by the pinged side's 10 s
//   did the same (UnexpectedEOFError).
// - Each abort also ended gossipsub's streams on that connection, and
//   gossipsub does not open them again while the peer stays connected over
//   another connection: the mesh's gossip repair then closed the peer's other,
//   live, connections (the one carrying calls among them) to start over.
import type { Connection } from '@libp2p/interface';
import { describe, expect, it } from 'vitest';
import { TOOLS_TOPIC } from '../host/src/mesh/discovery.js';
import type { MeshNode } from '../host/src/mesh/node.js';
import { eventually } from './helpers/gateway.js';
import { meshNodes } from './helpers/mesh-nodes.js';

const PING_PROTOCOL = '/ipfs/ping/1.0.0';
/** Longer than the connection monitor's 10 s heartbeat (so one comes) and than libp2p's 10 s ping handler. */
const HELD_MS = 12_000;

const mesh = meshNodes('mcp-edge-live-links-');

/** Two connected nodes, and every connection either loses from here on. */
async function connectedPair(): Promise<{ a: MeshNode; b: MeshNode; connection: Connection; closed: string[] }> {
  const [a, b] = [await mesh.node(), await mesh.node()];
  const closed: string[] = [];
  for (const node of [a, b]) {
    node.addEventListener('connection:close', (event) => closed.push(`${node.peerId.toString()} lost ${event.detail.remotePeer.toString()}`));
  }
  const connection = await a.dial(b.getMultiaddrs()[0]!);
  await eventually(() => (b.getConnections(a.peerId).length > 0 ? true : undefined), 10_000, 'B to count the connection');
  return { a, b, connection, closed };
}

describe('a live mesh link stays up', () => {
  it('a ping held open across a connection-monitor heartbeat does not get the connection aborted', { timeout: 40_000 }, async () => {
    const { connection, closed } = await connectedPair();
    // kad-dht pings a new contact: once that ping is done, a ping whose answer is slow (kad-dht's
    // next one, say): negotiated, its 32 bytes not sent yet.
    const pinging = () => connection.streams.some((s) => s.protocol === PING_PROTOCOL);
    await eventually(() => (pinging() ? undefined : true), 10_000, "kad-dht's ping of the new contact to end");
    const held = await connection.newStream(PING_PROTOCOL);
    await new Promise((r) => setTimeout(r, HELD_MS));

    expect(closed).toEqual([]);
    expect(connection.status).toBe('open');
    const ping = crypto.getRandomValues(new Uint8Array(32));
    const echoed = new Promise<Buffer>((resolve, reject) => {
      const parts: Uint8Array[] = [];
      held.addEventListener('message', (event) => {
        parts.push(event.data.subarray());
        if (Buffer.concat(parts).byteLength >= ping.byteLength) resolve(Buffer.concat(parts));
      });
      held.addEventListener('close', () => reject(new Error('the held ping stream closed before its answer')));
      setTimeout(() => reject(new Error('no answer to the held ping within 5 s')), 5_000);
    });
    held.send(ping);
    expect(await echoed).toEqual(Buffer.from(ping));
    await held.close();
  });

  it('gossip whose stream ended while the peer stays connected comes back over the same connection', { timeout: 40_000 }, async () => {
    const { a, b, connection, closed } = await connectedPair();
    for (const node of [a, b]) await mesh.discovery(node, 1_000);
    const subscribed = (node: MeshNode, peer: MeshNode) => node.services.pubsub.getSubscribers(TOOLS_TOPIC).some((p) => p.equals(peer.peerId));
    const both = () => (subscribed(a, b) && subscribed(b, a) ? true : undefined);
    await eventually(both, 10_000, 'each node to see the other subscribed');

    // A's gossip stream to B ends (as when the connection it was on closed): B drops A from
    // gossipsub, A drops B, and gossipsub opens no new stream while they stay connected.
    const gossipOut = connection.streams.find((s) => s.protocol.startsWith('/meshsub/') && s.direction === 'outbound');
    gossipOut!.abort(new Error('the gossip stream ended'));
    await eventually(() => (both() ? undefined : true), 5_000, 'the pair to lose gossip');

    await eventually(both, 25_000, 'gossip back between the pair');
    expect(closed).toEqual([]);
    expect(connection.status).toBe('open');
    expect(a.getConnections(b.peerId).map((c) => c.id)).toEqual([connection.id]);
  });
});
