// A peer heard of only through gossip passed on by others can be called.
// Found by test/mesh-churn in CI: A listed a new node's tool (its announcement
// came through other nodes), had no link to it, and the DHT had no address for
// it yet, so the call failed with "cannot open an MCP stream ... Not found".
// Announcements now carry the announcer's own addresses.
//
// Here the relay between A and C is a bare libp2p node B with gossipsub and
// no DHT: A's DHT has nobody to ask, so C's announcement is the only place
// A can learn where C is.
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedTool, TOOLS_PROTOCOL, TOOLS_TOPIC } from '../host/src/mesh/discovery.js';
import { dialPeer } from '../host/src/mesh/node.js';
import { eventually } from './helpers/gateway.js';
import { meshNodes } from './helpers/mesh-nodes.js';

const mesh = meshNodes('mcp-edge-gossip-addresses-');
const relays: Libp2p[] = [];
afterAll(() => Promise.allSettled(relays.map((r) => r.stop())));

/** A gossip-only node on the tools topic: it passes announcements on and answers no DHT query. */
async function gossipRelay(): Promise<Libp2p<{ pubsub: GossipSub }>> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, scoreParams: { IPColocationFactorWeight: 0 } }) },
  });
  relays.push(node);
  node.services.pubsub.subscribe(TOOLS_TOPIC);
  return node;
}

const tool = (name: string) => sharedTool({ name, inputSchema: { type: 'object' } }, true);

describe('a peer heard of through gossip only', () => {
  it('is dialled at the addresses its announcement carries', { timeout: 40_000 }, async () => {
    const b = await gossipRelay();
    const [a, c] = [await mesh.node(), await mesh.node()];
    const heardOnA = await mesh.discovery(a, 500);
    const onC = await mesh.discovery(c, 500);
    onC.share({ tools: [tool('far_tool')], resources: [], prompts: [] });
    await a.dial(b.getMultiaddrs()[0]!);
    await c.dial(b.getMultiaddrs()[0]!);
    await eventually(() => heardOnA.entry(c.peerId.toString()), 20_000, "C's announcement on A, through B");

    expect(a.getConnections(c.peerId)).toEqual([]);
    expect(heardOnA.announcedProviders('far_tool')).toEqual([c.peerId.toString()]);
    const known = await a.peerStore.get(c.peerId);
    expect(known.addresses.map((x) => x.multiaddr.toString())).toEqual(c.getMultiaddrs().map((x) => x.decapsulateCode(421).toString()));
    const stream = await dialPeer(a, c.peerId, TOOLS_PROTOCOL, AbortSignal.timeout(10_000));
    expect(stream.protocol).toBe(TOOLS_PROTOCOL);
    expect(a.getConnections(c.peerId).length).toBeGreaterThan(0);
    stream.abort(new Error('done'));
  });

  it('keeps only the announced addresses that are multiaddrs and name no other peer', { timeout: 40_000 }, async () => {
    const b = await gossipRelay();
    const [a, d] = [await mesh.node(), await mesh.node()];
    const heardOnA = await mesh.discovery(a, 500);
    await a.dial(b.getMultiaddrs()[0]!);
    // D speaks on the topic itself (no Discovery): its own address, B's address under B's id, and junk.
    d.services.pubsub.subscribe(TOOLS_TOPIC);
    await d.dial(b.getMultiaddrs()[0]!);
    const forged = { v: 1, addrs: [b.getMultiaddrs()[0]!.toString(), '/ip4/999.1.1.1/tcp/1', 'not an address', d.getMultiaddrs()[0]!.toString()], tools: [tool('forged_tool')], resources: [], prompts: [] };
    await eventually(
      async () => {
        await d.services.pubsub.publish(TOOLS_TOPIC, new TextEncoder().encode(JSON.stringify(forged))).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 250));
        return heardOnA.entry(d.peerId.toString());
      },
      20_000,
      "D's announcement on A, through B",
    );

    expect(heardOnA.announcedProviders('forged_tool')).toEqual([d.peerId.toString()]);
    const known = await eventually(() => a.peerStore.get(d.peerId).catch(() => undefined), 5_000, "D's entry in A's peer store");
    expect(known.addresses.map((x) => x.multiaddr.toString())).toEqual([d.getMultiaddrs()[0]!.decapsulateCode(421).toString()]);
  });
});
