// The libp2p node under the mesh: TCP and WebSockets, Noise, Yamux, identify, ping, the
// Kademlia DHT (provider records of shared tools), gossipsub (announcements),
// bootstrap peers and optional mDNS. A private mesh guards every connection
// with the pre-shared network key; an allowlist refuses other peer ids.
// Circuit relay v2: every node can dial and listen through a relay (a node
// behind NAT listens on "<relay>/p2p-circuit"), and a node with
// relay_service = true relays for others. DCUtR (hole_punching) then replaces a
// relayed connection by a direct one when one side can be dialled: js-libp2p
// learns no public TCP address of a node behind NAT (its dials do not leave from
// its listening port, libp2p/js-libp2p#2620), so two nodes that are both behind
// NAT stay relayed; a NATed node and a public one (with `announce`) go direct.
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import { ping, type Ping } from '@libp2p/ping';
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { bootstrap } from '@libp2p/bootstrap';
import { mdns } from '@libp2p/mdns';
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2';
import { preSharedKey } from '@libp2p/pnet';
import { dcutr } from '@libp2p/dcutr';
import type { PeerDiscovery, PeerId, PrivateKey, ComponentLogger, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import type { MeshSettings } from '../config/mesh-settings.js';
import { MeshError } from './errors.js';
import { guardedProtector } from './pnet-guard.js';
import './yamux-guard.js';

export type MeshServices = { identify: Identify; ping: Ping; dht: KadDHT; pubsub: GossipSub; relay?: CircuitRelayService };
export type MeshNode = Libp2p<MeshServices>;

/** The DHT protocol of mcp-edge meshes: kept apart from the public IPFS DHT. */
const DHT_PROTOCOL = '/mcp-edge/kad/1.0.0';

/**
 * How long libp2p's connection monitor waits for a ping's answer before it aborts the connection
 * (its default adapts from 5 s): on a loaded node (a Pi, a CI runner) a ping takes seconds, and
 * an abort is a live link cut, with every call on it. Fixed, not adaptive: the pinged side's
 * handler must outlast it (PING_HANDLER_TIMEOUT_MS), and an adaptive one grows up to 60 s.
 */
const PING_TIMEOUT_MS = 20_000;
/** How long a node answers a ping stream before it drops it: past the pinger's PING_TIMEOUT_MS (libp2p's 10 s is not). */
const PING_HANDLER_TIMEOUT_MS = PING_TIMEOUT_MS + 10_000;
/**
 * Ping streams one connection may carry at once, each way. Several ping at once: the connection
 * monitor (every 10 s; a ping slower than that overlaps the next), kad-dht (it pings each new
 * contact, and old ones when a bucket is full) and \`mcp-edge mesh ping\`. libp2p's ping allows 1
 * outbound and 2 inbound, and the monitor aborts the whole connection when its ping stream fails
 * for any reason, that limit included: on a loaded node, where kad-dht's ping of a new peer was
 * still open at the next heartbeat, that cut live links mid-call (test/mesh-live-links.test.ts).
 */
const PING_STREAMS = 8;

function checkedAddrs(list: readonly string[], key: string): string[] {
  return list.map((text) => {
    try {
      return multiaddr(text).toString();
    } catch (err) {
      throw new MeshError(`mesh.${key}: "${text}" is not a multiaddr (${(err as Error).message})`);
    }
  });
}

/** Bootstrap multiaddrs, checked. */
export function bootstrapAddrs(settings: MeshSettings): string[] {
  return checkedAddrs(settings.bootstrap, 'bootstrap');
}

export async function createMeshNode(settings: MeshSettings, privateKey: PrivateKey, networkKey: Uint8Array | undefined): Promise<MeshNode> {
  const listen = checkedAddrs(settings.listen, 'listen');
  const announce = checkedAddrs(settings.announce, 'announce');
  const bootstrapList = checkedAddrs(settings.bootstrap, 'bootstrap');
  const allowed = settings.allowedPeers ? new Set(settings.allowedPeers) : undefined;
  const refused = (peer: PeerId): boolean => allowed !== undefined && !allowed.has(peer.toString());
  const discovery: ((components: { logger: ComponentLogger }) => PeerDiscovery)[] = [];
  if (bootstrapList.length > 0) discovery.push(bootstrap({ list: bootstrapList }) as never);
  if (settings.mdns) discovery.push(mdns() as never);
  return createLibp2p({
    start: false,
    privateKey,
    addresses: { listen, ...(announce.length > 0 ? { announce } : {}) },
    // WebSockets for links where only HTTP gets through (a proxy, a firewall open for port 80/443).
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The nonce exchange gets more than pnet's 1 s default: a loaded Pi (or CI runner) misses that.
    // Guarded: pnet kept every closed connection's cipher memory, see pnet-guard.ts.
    ...(networkKey ? { connectionProtector: () => guardedProtector(preSharedKey({ psk: networkKey, timeout: 10_000 })()) } : {}),
    // libp2p refuses more than 5 new inbound connections a second from one IP address: several
    // nodes per host, or behind one NAT, are how edge meshes live (gossipsub's colocation penalty is
    // off for the same reason), and a bootstrap node meets all of them at once when they start.
    //
    // The handshake deadlines are longer than libp2p's (6 s a dialled address, 10 s an inbound
    // upgrade or a stream's protocol negotiation): a loaded node (a Pi, a CI runner, many nodes on one host) misses those, and a dial
    // cut off after its side of the handshake finished leaves the peer holding a connection the
    // dialler dropped, then dialling again into the same deadline.
    connectionManager: {
      inboundConnectionThreshold: 100,
      dialTimeout: 30_000,
      addressDialTimeout: 20_000,
      inboundUpgradeTimeout: 20_000,
      // A stream's protocol negotiation too (10 s by default): gossipsub opens its stream to a peer once.
      inboundStreamProtocolNegotiationTimeout: 20_000,
      outboundStreamProtocolNegotiationTimeout: 20_000,
    },
    // libp2p pings each connection every 10 s and aborts it when a ping fails: 20 s without an
    // answer still finds a dead link (the mesh also closes links over which nothing is heard, see
    // Mesh.keepJoined). The ping service below is sized so that only a missing answer fails one.
    connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_MS, maxTimeout: PING_TIMEOUT_MS } },
    connectionGater: {
      // Loopback and LAN addresses are where a mesh of edge nodes lives.
      denyDialMultiaddr: () => false,
      denyDialPeer: (peer) => refused(peer),
      denyInboundEncryptedConnection: (peer) => refused(peer),
      denyOutboundEncryptedConnection: (peer) => refused(peer),
    },
    peerDiscovery: discovery,
    services: {
      identify: identify(),
      ping: ping({ maxInboundStreams: PING_STREAMS, maxOutboundStreams: PING_STREAMS, timeout: PING_HANDLER_TIMEOUT_MS }),
      dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        // Edge nodes often share one address (several per host, NAT): no penalty for that.
        scoreParams: { IPColocationFactorWeight: 0 },
      }),
      // The mesh's own relay: its relayed connections carry MCP calls, so no data or duration cap
      // (libp2p's defaults, 128 KiB and 2 minutes, suit public relays that only help hole punching).
      ...(settings.relayService ? { relay: circuitRelayServer({ reservations: { applyDefaultLimit: false } }) } : {}),
      ...(settings.holePunching ? { dcutr: dcutr() } : {}),
    },
  });
}

/**
 * Makes sure `peer` can be dialled. A peer heard of through others (its
 * announcements gossiped on by a relay, say) may have no address in the peer
 * store yet; libp2p does not look one up on dial, so the DHT is asked (findPeer
 * stores what it finds): a node behind a relay is found this way.
 */
async function findIfUnknown(node: MeshNode, peer: PeerId, signal: AbortSignal): Promise<void> {
  if (node.getConnections(peer).length > 0) return;
  const known = await node.peerStore.get(peer).catch(() => undefined);
  if (!known || known.addresses.length === 0) await node.peerRouting.findPeer(peer, { signal });
}

/** Opens a stream of `protocol` to `peer`, finding its address first when it has none. */
export async function dialPeer(node: MeshNode, peer: PeerId, protocol: string, signal: AbortSignal): Promise<Stream> {
  await findIfUnknown(node, peer, signal);
  return node.dialProtocol(peer, protocol, { signal });
}

/** The round trip to `peer` in ms (libp2p ping), finding its address first when it has none. */
export async function pingPeer(node: MeshNode, peer: PeerId, signal: AbortSignal): Promise<number> {
  await findIfUnknown(node, peer, signal);
  return node.services.ping.ping(peer, { signal });
}
