// Who shares which tools. Each node announces its shared tools (definitions,
// their digests, whether a retry is safe), resources and prompts (definitions
// and digests) by gossip on one topic, every
// interval and whenever the list changes, and as DHT provider records keyed by
// tool name. The directory keeps what each peer last said; a peer that goes
// silent for three intervals, or whose connection closes, leaves it. Gossip
// can miss a peer (its topic subscription not yet seen, a loaded node), so a
// node also asks each peer directly when it connects and whenever it has not
// heard from a connected peer for two intervals. Silence is counted in this
// node's own intervals as well as by the clock: after the event loop stalled
// (many nodes in one process, a loaded machine), the interval's timer runs
// before the loop reads what peers sent meanwhile, and by the clock alone
// every peer looked silent at once (each node forgot and asked all its peers,
// which made the next stall longer).
import { createHash } from '../crypto.js';
import type { PeerId, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as createDigest } from 'multiformats/hashes/digest';
import type { Prompt, Resource, Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Logger } from '../telemetry/log.js';
import { canonicalJson, toolDigest } from '../security/pinning/digest.js';
import type { MeshNode } from './node.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../protocol/json-depth.js';

export const TOOLS_TOPIC = '/mcp-edge/tools/1';
/** Asked directly, a node answers with the announcement it gossips (then closes the stream). */
export const TOOLS_PROTOCOL = '/mcp-edge/tools/1.0.0';
/** A DHT lookup stops once it found this many providers (a replica to fail over to, not a census). */
const DHT_ENOUGH_PROVIDERS = 3;
/**
 * The shortest time a DHT provide or a direct ask gets. Not the announce
 * interval (a test runs it at 300 ms): on a loaded node (a Pi, a CI runner) a
 * handshake takes longer, and cut off every interval it never completes,
 * while the peer may already count the connection.
 */
const MIN_EXCHANGE_TIMEOUT_MS = 10_000;
/** How long gossipsub gets to open its stream over a new connection before that is judged failed (its streams open one at a time). */
const GOSSIP_SETTLE_MS = 15_000;
/** The largest announcement a node reads from a peer. */
const MAX_ANNOUNCEMENT_BYTES = 4 * 1024 * 1024;
/** The most addresses an announcement carries (and a node takes from one). */
const MAX_ANNOUNCED_ADDRS = 32;
/** The multicodec of a multiaddr's /p2p/<peer id> part. */
const P2P_CODE = 421;

/** One shared tool as announced. */
export interface SharedTool {
  definition: Tool;
  /** SHA-256 of the definition's canonical JSON (as tool pinning computes it). */
  digest: string;
  /** Safe to retry on another replica. */
  idempotent: boolean;
}

/** A shared resource or prompt as announced. */
export interface SharedItem<T> {
  definition: T;
  /** SHA-256 of the definition's canonical JSON. */
  digest: string;
}
export type SharedResource = SharedItem<Resource>;
export type SharedPrompt = SharedItem<Prompt>;

/** What a node shares: tools, and the resources and prompts it chose. */
export interface SharedOffer {
  tools: SharedTool[];
  resources: SharedResource[];
  prompts: SharedPrompt[];
}

const digestText = z.string().regex(/^[0-9a-f]{64}$/);

// Nodes from before resources and prompts were shared announce tools only: the lists default to empty.
// `addrs`, the announcer's own addresses, came later too.
const announcementSchema = z.object({
  v: z.literal(1),
  addrs: z.array(z.string().max(1024)).max(MAX_ANNOUNCED_ADDRS).default([]),
  resources: z
    .array(z.object({ definition: z.object({ uri: z.string().min(1).max(2048), name: z.string().max(256) }).passthrough(), digest: digestText }))
    .max(1000)
    .default([]),
  prompts: z
    .array(z.object({ definition: z.object({ name: z.string().min(1).max(256) }).passthrough(), digest: digestText }))
    .max(1000)
    .default([]),
  tools: z
    .array(
      z.object({
        definition: z.object({ name: z.string().min(1).max(256), inputSchema: z.object({ type: z.literal('object') }).passthrough() }).passthrough(),
        digest: z.string().regex(/^[0-9a-f]{64}$/),
        idempotent: z.boolean(),
      }),
    )
    .max(1000),
});

export interface PeerEntry {
  tools: SharedTool[];
  resources: SharedResource[];
  prompts: SharedPrompt[];
  heardAt: number;
  /** This node's interval count when the peer was last heard (see the file comment). */
  heardTick: number;
}

/** The DHT key of "who provides tool `name`". */
export function toolKey(name: string): CID {
  const sha = createHash('sha256').update(`mcp-edge/tool/${name}`).digest();
  return CID.createV1(raw.code, createDigest(0x12, sha));
}

export function sharedTool(definition: Tool, idempotent: boolean): SharedTool {
  return { definition, digest: toolDigest(definition).digest, idempotent };
}

export function sharedItem<T>(definition: T): SharedItem<T> {
  return { definition, digest: createHash('sha256').update(canonicalJson(definition)).digest('hex') };
}

/** What changes an announcement: names, digests and retry safety. */
function fingerprint(offer: SharedOffer): string {
  return JSON.stringify([offer.tools.map((t) => [t.definition.name, t.digest, t.idempotent]), offer.resources.map((r) => r.digest), offer.prompts.map((p) => p.digest)]);
}

/**
 * The peers gossipsub has an outbound stream to. Not in its typed interface
 * (GossipSub's class has it public); undefined, and gossip left unrepaired,
 * should a gossipsub version drop it.
 */
function gossipStreamsOut(node: MeshNode): ReadonlyMap<string, unknown> | undefined {
  const streams = (node.services.pubsub as unknown as { streamsOutbound?: unknown }).streamsOutbound;
  return streams instanceof Map ? streams : undefined;
}

/**
 * What the peer writes on `stream` until it closes its end, at most `max`
 * bytes. Read from the stream's events: its async iterator ends on the
 * remote's close only when that comes after the loop started, and a short
 * answer (an announcement) often arrives with the close, before: the loop then
 * waited for good and every direct ask timed out (found with issue 15). The
 * read buffer is handed out whole, so a message seen after the remote's close
 * is the last; a close that comes later is 'end', after the data.
 */
function readToEnd(stream: Stream, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const onMessage = (event: StreamMessageEvent): void => {
      size += event.data.byteLength;
      if (size > max) {
        stream.abort(new Error('announcement too large'));
        return finish(new Error(`its announcement is larger than ${max} bytes`));
      }
      chunks.push(event.data.subarray());
      if (stream.remoteWriteStatus === 'closed') finish();
    };
    const onEnd = (): void => finish();
    const onClose = (event: StreamCloseEvent): void => finish(event.error ?? new Error('the stream closed before the answer ended'));
    let finished = false;
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('end', onEnd);
      stream.removeEventListener('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    stream.addEventListener('message', onMessage);
    stream.addEventListener('end', onEnd);
    stream.addEventListener('close', onClose);
  });
}

export class Discovery {
  private readonly peers = new Map<string, PeerEntry>();
  private readonly listeners = new Set<(peer: string) => void>();
  private shared: SharedOffer = { tools: [], resources: [], prompts: [] };
  private provided = new Set<string>();
  /** The provide round under way, if any. */
  private providing: Promise<void> | undefined;
  /** Peers being asked for their announcement now. */
  private readonly asking = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Intervals this node has run: silence is judged by them and by the clock. */
  private ticks = 0;

  constructor(
    private readonly node: MeshNode,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.node.handle(TOOLS_PROTOCOL, (stream) => {
      stream.send(this.announcement());
      void stream.close().catch((err: Error) => stream.abort(err));
    });
    this.node.addEventListener('peer:identify', (event) => {
      if (event.detail.protocols.includes(TOOLS_PROTOCOL)) void this.ask(event.detail.peerId);
    });
    const pubsub = this.node.services.pubsub;
    pubsub.subscribe(TOOLS_TOPIC);
    pubsub.addEventListener('message', (event) => {
      const msg = event.detail;
      if (msg.topic !== TOOLS_TOPIC || msg.type !== 'signed') return;
      this.heard(msg.from, msg.data);
    });
    // A peer that just joined the topic hears our tools now, not an interval later.
    pubsub.addEventListener('subscription-change', (event) => {
      if (event.detail.subscriptions.some((s) => s.topic === TOOLS_TOPIC && s.subscribe)) void this.announce();
    });
    this.node.addEventListener('peer:disconnect', (event) => this.forget(event.detail.toString(), 'its connection closed'));
    this.timer = setInterval(() => {
      this.ticks += 1;
      this.expire();
      this.askSilent();
      this.repairGossip();
      void this.announce();
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Calls `listener` with a peer id whenever what that peer shares changed (or it left). */
  onChange(listener: (peer: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What `peer` shares now; undefined when it is not (or no longer) known. */
  entry(peer: string): PeerEntry | undefined {
    return this.peers.get(peer);
  }

  /** Every peer heard from (some share no tools), with its tools. */
  entries(): [string, PeerEntry][] {
    return [...this.peers];
  }

  /** Sets what this node shares and announces it at once. */
  share(offer: SharedOffer): void {
    const changed = fingerprint(offer) !== fingerprint(this.shared);
    this.shared = offer;
    if (changed) {
      this.provided = new Set([...this.provided].filter((name) => offer.tools.some((t) => t.definition.name === name)));
      void this.announce();
    }
  }

  /**
   * What this node shares, and where it can be dialled: a peer that hears it
   * through others (gossip passed on) has no link to this node and may find
   * no address for it in the DHT yet (a node that just joined), and a call
   * to one of its tools needs one.
   */
  private announcement(): Uint8Array {
    const addrs = this.node
      .getMultiaddrs()
      .slice(0, MAX_ANNOUNCED_ADDRS)
      .map((a) => a.toString());
    return new TextEncoder().encode(JSON.stringify({ v: 1, addrs, ...this.shared }));
  }

  /**
   * Asks `peer` for its announcement over a stream of its own, on a
   * connection already open (a peer not connected has nothing to tell); one
   * question per peer at a time.
   */
  private async ask(peer: PeerId): Promise<void> {
    const key = peer.toString();
    // A relayed connection carries only the protocols allowed on limited connections (not this one).
    const open = this.node.getConnections(peer).filter((c) => c.status === 'open');
    const connection = open.find((c) => c.limits === undefined) ?? open[0];
    if (!connection || this.asking.has(key)) return;
    this.asking.add(key);
    // One deadline for opening the stream and reading the answer: a peer that never finishes would
    // otherwise keep this peer from being asked again.
    const signal = AbortSignal.timeout(Math.max(this.intervalMs, MIN_EXCHANGE_TIMEOUT_MS));
    let giveUp: (() => void) | undefined;
    try {
      const stream = await connection.newStream(TOOLS_PROTOCOL, { signal });
      giveUp = () => stream.abort(new Error('no answer in time'));
      signal.addEventListener('abort', giveUp, { once: true });
      const answer = await readToEnd(stream, MAX_ANNOUNCEMENT_BYTES);
      // Our end too: the asked side's stream stays open until both ends closed.
      void stream.close().catch((err: Error) => stream.abort(err));
      // An answer that arrives after the peer left would bring it back until it expired.
      if (this.node.getConnections(peer).length > 0) this.heard(peer, answer);
    } catch (err) {
      this.log.debug(`mesh: asking peer ${key} for its tools failed`, { error: (err as Error).message });
    } finally {
      if (giveUp) signal.removeEventListener('abort', giveUp);
      this.asking.delete(key);
    }
  }

  /** Asks the connected peers not heard from for two intervals (their gossip may not reach this node). */
  private askSilent(): void {
    for (const peer of this.node.getPeers()) {
      const entry = this.peers.get(peer.toString());
      if (!entry || this.silentFor(entry, 2)) void this.ask(peer);
    }
  }

  /**
   * Restarts gossip to connected peers this node has no gossip stream to.
   * gossipsub opens its stream to a peer once, when libp2p hands it an
   * identified connection, and not again when that fails (a loaded peer that
   * missed the protocol negotiation deadline) or when the stream ends while the
   * peer stays connected (the connection it was on closed, another remains):
   * the peer then never hears this node's subscription or announcements. The
   * peer is identified again over its connection, which hands the connection
   * to gossipsub once more, and it opens its stream. The connection is not
   * closed for this (it was, and that cut live calls on it: issue 15); each
   * side repairs its own stream, so a pair repairs both directions.
   */
  private repairGossip(): void {
    const outbound = gossipStreamsOut(this.node);
    if (!outbound) return;
    const settled = Date.now() - GOSSIP_SETTLE_MS;
    const repaired = new Set<string>();
    for (const connection of this.node.getConnections()) {
      const peer = connection.remotePeer.toString();
      if (connection.status !== 'open' || connection.timeline.open > settled || outbound.has(peer) || repaired.has(peer) || !this.peers.has(peer)) continue;
      repaired.add(peer);
      this.log.debug(`mesh: no gossip stream to peer ${peer}; identifying it again so that gossipsub opens one`);
      this.node.services.identify
        .identify(connection, { signal: AbortSignal.timeout(MIN_EXCHANGE_TIMEOUT_MS) })
        .catch((err: Error) => this.log.debug(`mesh: identifying peer ${peer} again failed`, { error: err.message }));
    }
  }

  private async announce(): Promise<void> {
    const data = this.announcement();
    try {
      await this.node.services.pubsub.publish(TOOLS_TOPIC, data);
    } catch (err) {
      this.log.debug('mesh: announcing shared tools failed', { error: (err as Error).message });
    }
    await this.provide();
  }

  /**
   * Puts provider records for shared tools not yet provided (needs DHT peers;
   * retried every interval). One round at a time: announcements come every
   * interval and on every new subscriber, and overlapping DHT queries for the
   * same key only load the node and its peers.
   */
  private provide(): Promise<void> {
    this.providing ??= this.provideRound().finally(() => (this.providing = undefined));
    return this.providing;
  }

  private async provideRound(): Promise<void> {
    for (const tool of this.shared.tools) {
      const name = tool.definition.name;
      if (this.provided.has(name) || this.node.getConnections().length === 0) continue;
      try {
        await this.node.contentRouting.provide(toolKey(name), { signal: AbortSignal.timeout(Math.max(this.intervalMs, MIN_EXCHANGE_TIMEOUT_MS)) });
        this.provided.add(name);
      } catch (err) {
        this.log.debug(`mesh: provider record for "${name}" not stored yet`, { error: (err as Error).message });
      }
    }
  }

  private heard(from: PeerId, data: Uint8Array): void {
    let parsed: z.infer<typeof announcementSchema>;
    try {
      parsed = announcementSchema.parse(JSON.parse(new TextDecoder().decode(data)));
    } catch (err) {
      this.log.warn(`mesh: ignored a malformed announcement from peer ${from.toString()}`, { error: (err as Error).message });
      return;
    }
    // Its definitions would reach every client's tools/list, whose answer could then not be written (protocol/json-depth.ts).
    if (nestsDeeperThan(parsed)) {
      this.log.warn(`mesh: ignored an announcement from peer ${from.toString()}: it nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep`);
      return;
    }
    const peer = from.toString();
    void this.learnAddresses(from, parsed.addrs);
    const tools = parsed.tools.map((t) => ({ definition: t.definition as Tool, digest: t.digest, idempotent: t.idempotent }));
    const resources = parsed.resources.map((r) => ({ definition: r.definition as Resource, digest: r.digest }));
    const prompts = parsed.prompts.map((p) => ({ definition: p.definition as Prompt, digest: p.digest }));
    const before = this.peers.get(peer);
    const entry = { tools, resources, prompts, heardAt: Date.now(), heardTick: this.ticks };
    this.peers.set(peer, entry);
    if (!before || fingerprint(before) !== fingerprint(entry)) {
      this.log.info(`mesh: peer ${peer} shares ${tools.length} tool(s), ${resources.length} resource(s), ${prompts.length} prompt(s)`, { tools: tools.map((t) => t.definition.name) });
      this.emit(peer);
    }
  }

  /**
   * Puts the addresses `peer` announced (the message is signed with its key)
   * in the peer store, for a peer this node has no connection to: its own
   * word replaces what the store held. A connected peer's addresses come from
   * identify. Unreadable ones, and those naming another peer, are left out.
   */
  private async learnAddresses(peer: PeerId, announced: readonly string[]): Promise<void> {
    if (announced.length === 0 || this.node.getConnections(peer).length > 0 || peer.equals(this.node.peerId)) return;
    const addrs = new Map<string, Multiaddr>();
    for (const text of announced) {
      let addr: Multiaddr;
      try {
        addr = multiaddr(text);
      } catch {
        continue;
      }
      const named = addr.getComponents().findLast((c) => c.code === P2P_CODE)?.value;
      if (named !== undefined && named !== peer.toString()) continue;
      const own = named === undefined ? addr : addr.decapsulateCode(P2P_CODE);
      addrs.set(own.toString(), own);
    }
    if (addrs.size === 0) return;
    try {
      const known = await this.node.peerStore.get(peer).catch(() => undefined);
      const same = known !== undefined && known.addresses.length === addrs.size && known.addresses.every((a) => addrs.has(a.multiaddr.toString()));
      if (!same) await this.node.peerStore.patch(peer, { multiaddrs: [...addrs.values()] });
    } catch (err) {
      this.log.debug(`mesh: keeping the addresses peer ${peer.toString()} announced failed`, { error: (err as Error).message });
    }
  }

  private forget(peer: string, why: string): void {
    if (!this.peers.delete(peer)) return;
    this.log.info(`mesh: peer ${peer} left the directory: ${why}`);
    this.emit(peer);
  }

  /**
   * Forgets the peers silent for three intervals, or for six while this node
   * is asking them. A peer's gossip may reach this node through a peer that
   * just left (a relay), and the answer to the direct question, asked after
   * two silent intervals, can take longer than one interval on a loaded node:
   * forgetting it meanwhile withdrew its tools from clients for that moment.
   * Not for longer: a half-open link never answers, and its peer would stay
   * listed until the question's deadline.
   */
  private expire(): void {
    for (const [peer, entry] of this.peers) {
      const silent = this.asking.has(peer) ? 6 : 3;
      if (this.silentFor(entry, silent)) this.forget(peer, `not heard for ${silent * this.intervalMs} ms`);
    }
  }

  /** Not heard for `intervals` of this node's intervals, by the clock and by their count (a stalled loop ran fewer). */
  private silentFor(entry: PeerEntry, intervals: number): boolean {
    return entry.heardAt < Date.now() - intervals * this.intervalMs && this.ticks - entry.heardTick >= intervals;
  }

  private emit(peer: string): void {
    for (const listener of this.listeners) listener(peer);
  }

  /** The peers whose latest announcement lists `name` (announcements expire after three silent intervals). */
  announcedProviders(name: string): string[] {
    return this.entries()
      .filter(([, e]) => e.tools.some((t) => t.definition.name === name))
      .map(([peer]) => peer)
      .sort();
  }

  /**
   * Who provides `name`. The directory answers when it knows a provider: it
   * holds what live peers announced, so it is fresh and costs no round trip.
   * On a miss the DHT is asked, and its query stops at the first providers
   * it returns (`enough`) instead of walking to the k closest peers: the walk
   * is what made a lookup take hundreds of ms.
   */
  async lookup(name: string, timeoutMs: number, enough = DHT_ENOUGH_PROVIDERS): Promise<string[]> {
    const announced = this.announcedProviders(name);
    if (announced.length > 0) return announced;
    return this.dhtProviders(name, timeoutMs, enough);
  }

  /** Providers of `name` from DHT provider records: at most `enough`, within `timeoutMs`. */
  async dhtProviders(name: string, timeoutMs: number, enough = DHT_ENOUGH_PROVIDERS): Promise<string[]> {
    const found = new Set<string>();
    const self = this.node.peerId.toString();
    if (this.node.getConnections().length === 0) return [];
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]);
    try {
      for await (const provider of this.node.contentRouting.findProviders(toolKey(name), { signal })) {
        if (provider.id.toString() !== self) found.add(provider.id.toString());
        if (found.size >= enough) break;
      }
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError' && (err as Error).name !== 'AbortError') throw err;
    } finally {
      // Leaving the loop early ends the query; the abort also ends dials it still has under way.
      stop.abort();
    }
    return [...found].sort();
  }
}
