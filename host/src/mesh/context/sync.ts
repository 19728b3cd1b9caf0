// Context spaces kept in step with the mesh's peers, two ways:
// - gossip: each update written here is published on the space's gossipsub
//   topic; a peer's update is checked and applied in the topic's validator,
//   so garbage is neither applied nor forwarded (and costs its sender score);
// - anti-entropy: with each peer that joins (identify) and then every
//   context_sync_interval_ms, one stream per space exchanges state vectors
//   and the updates each side misses. Gossip lost in a partition (or before a
//   peer subscribed) is made up here: nodes converge once a link is back.
// Only the mesh's members reach either path: the network key and allowlist
// guard every connection, and attestation (when required) admits each peer.
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { PeerId, Stream } from '@libp2p/interface';
import type { ContextSettings } from '../../config/mesh-settings.js';
import type { Logger } from '../../telemetry/log.js';
import type { MeshAdmission } from '../attestation.js';
import { ContextError } from '../errors.js';
import type { MeshNode } from '../node.js';
import { FrameReader, writeFrames } from './frames.js';
import type { ContextSpace } from './space.js';

export const CONTEXT_PROTOCOL = '/mcp-edge/context/1.0.0';

/** The gossipsub topic of a space. */
export const contextTopic = (space: string): string => `/mcp-edge/context/1/${space}`;

/** A whole exchange (three frames) takes this long at most. */
const EXCHANGE_TIMEOUT_MS = 10_000;
/** A state vector has an entry (a few bytes) per writer the space ever had. */
const MAX_STATE_VECTOR_BYTES = 256 * 1024;
const MAX_SPACE_NAME_BYTES = 64;

/** Counts for the context resource and /metrics. */
export interface ContextSyncStats {
  /** Peers' updates (gossiped or from an exchange) that changed a space. */
  applied: number;
  refused: number;
  exchanges: number;
}

export class ContextSync {
  readonly stats: ContextSyncStats = { applied: 0, refused: 0, exchanges: 0 };
  private readonly running = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly node: MeshNode,
    private readonly spaces: ReadonlyMap<string, ContextSpace>,
    private readonly settings: ContextSettings,
    private readonly admit: MeshAdmission,
    private readonly log: Logger,
  ) {}

  /** Before the node starts: the protocol, and the hook that syncs each peer as it joins (those dialled at start too). */
  async attach(): Promise<void> {
    await this.node.handle(CONTEXT_PROTOCOL, (stream, connection) => void this.answer(stream, connection.remotePeer.toString()));
    this.node.addEventListener('peer:identify', (event) => {
      if (event.detail.protocols.includes(CONTEXT_PROTOCOL)) this.syncPeer(event.detail.peerId);
    });
    for (const space of this.spaces.values()) {
      space.onUpdate((update, origin) => {
        if (origin === 'local') this.publish(space.name, update);
        // Counted here, where Yjs reports a change: a sync diff of nothing new changes nothing.
        else this.stats.applied += 1;
      });
    }
  }

  /** Once the node runs: the gossip topics and the periodic comparison. */
  start(): void {
    const pubsub = this.node.services.pubsub;
    for (const space of this.spaces.values()) {
      const topic = contextTopic(space.name);
      pubsub.topicValidators.set(topic, async (_peer, message) => {
        if (message.type !== 'signed') return TopicValidatorResult.Reject;
        return (await this.received(space, message.data, message.from.toString(), this.settings.maxUpdateBytes)) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject;
      });
      pubsub.subscribe(topic);
    }
    // A peer that joins a space's topic is compared at once (its identify may have come before it subscribed).
    pubsub.addEventListener('subscription-change', (event) => {
      for (const { topic, subscribe } of event.detail.subscriptions) {
        const space = subscribe ? this.spaceOfTopic(topic) : undefined;
        if (space) void this.exchange(event.detail.peerId, space);
      }
    });
    this.timer = setInterval(() => this.syncAll(), this.settings.syncIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Compares every space with each connected peer subscribed to its topic (so sharing it). */
  syncAll(): void {
    const pubsub = this.node.services.pubsub;
    for (const space of this.spaces.values()) {
      for (const peer of pubsub.getSubscribers(contextTopic(space.name))) {
        if (this.node.getConnections(peer).length > 0) void this.exchange(peer, space);
      }
    }
  }

  private spaceOfTopic(topic: string): ContextSpace | undefined {
    return [...this.spaces.values()].find((space) => contextTopic(space.name) === topic);
  }

  private syncPeer(peer: PeerId): void {
    for (const space of this.spaces.values()) void this.exchange(peer, space);
  }

  private publish(space: string, update: Uint8Array): void {
    this.node.services.pubsub.publish(contextTopic(space), update).catch((err: Error) => this.log.debug('mesh: context update not published (the sync sends it later)', { space, error: err.message }));
  }

  /** Applies a peer's update; false (logged and counted) when it was refused. */
  private async received(space: ContextSpace, update: Uint8Array, peer: string, maxBytes: number): Promise<boolean> {
    try {
      await this.admit(peer);
      space.apply(update, { peer }, maxBytes);
      return true;
    } catch (err) {
      this.stats.refused += 1;
      const code = err instanceof ContextError ? err.code : 'not-admitted';
      this.log.warn('mesh: context update refused', { space: space.name, peer, code, error: (err as Error).message });
      return false;
    }
  }

  /** This node's side of an exchange it starts: [space, our state vector] -> [what we miss, their state vector] -> [what they miss]. */
  private async exchange(peer: PeerId, space: ContextSpace): Promise<void> {
    const key = `${peer.toString()} ${space.name}`;
    if (this.running.has(key)) return;
    this.running.add(key);
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS);
    let stream: Stream | undefined;
    try {
      await this.admit(peer.toString());
      stream = await this.node.dialProtocol(peer, CONTEXT_PROTOCOL, { signal });
      const frames = new FrameReader(stream);
      await writeFrames(stream, [new TextEncoder().encode(space.name), space.stateVector()]);
      const missing = await frames.next(this.settings.maxDocBytes, signal);
      const theirs = await frames.next(MAX_STATE_VECTOR_BYTES, signal);
      await this.received(space, missing, peer.toString(), this.settings.maxDocBytes);
      await writeFrames(stream, [space.missing(theirs)]);
      await stream.close({ signal });
      this.stats.exchanges += 1;
    } catch (err) {
      this.failed(err as Error, { space: space.name, peer: peer.toString() });
      stream?.abort(err as Error);
    } finally {
      this.running.delete(key);
    }
  }

  /** The other side of an exchange a peer started. */
  private async answer(stream: Stream, peer: string): Promise<void> {
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS);
    const frames = new FrameReader(stream);
    try {
      await this.admit(peer);
      const name = new TextDecoder().decode(await frames.next(MAX_SPACE_NAME_BYTES, signal));
      const space = this.spaces.get(name);
      if (!space) throw new ContextError('unknown-space', `this node does not share context space "${name.slice(0, MAX_SPACE_NAME_BYTES)}"`);
      const theirs = await frames.next(MAX_STATE_VECTOR_BYTES, signal);
      await writeFrames(stream, [space.missing(theirs), space.stateVector()]);
      await this.received(space, await frames.next(this.settings.maxDocBytes, signal), peer, this.settings.maxDocBytes);
      await stream.close({ signal });
      this.stats.exchanges += 1;
    } catch (err) {
      this.failed(err as Error, { peer });
      stream.abort(err as Error);
    }
  }

  /** An exchange that broke off: a refusal (the peer sent what it must not) is counted and warned of; a lost link, or a space the peer does not share, is tried again on the next interval. */
  private failed(err: Error, fields: Record<string, string>): void {
    // A peer that shares other spaces than ours is a difference of configuration, not a fault.
    if (err instanceof ContextError && err.code !== 'unknown-space') {
      this.stats.refused += 1;
      this.log.warn('mesh: context exchange refused', { ...fields, code: err.code, error: err.message });
    } else this.log.debug('mesh: context exchange failed (tried again on the next interval)', { ...fields, error: err.message });
  }
}
