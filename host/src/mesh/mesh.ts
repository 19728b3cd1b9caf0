// The mesh: this gateway's libp2p node, what it shares, and a provider for
// each peer that shares tools with it. `Mesh.start` is the one way in; the
// gateway starts it after its own providers, so shared tools are listed.
import type { Aggregator } from '../gateway/aggregator/aggregator.js';
import type { MeshSettings } from '../config/mesh-settings.js';
import type { Logger } from '../telemetry/log.js';
import type { PeerAttestation } from '../security/tpm/peer-attestation.js';
import { meshAdmission, serveAttestation, type AttestationProver, type MeshAdmission } from './attestation.js';
import { Discovery, type SharedOffer, type SharedTool } from './discovery.js';
import { MeshError } from './errors.js';
import { MeshStats, meshMetrics } from './metrics.js';
import { loadIdentity, loadNetworkKey } from './identity.js';
import { multiaddr } from '@multiformats/multiaddr';
import type { PrivateKey } from '@libp2p/interface';
import { bootstrapAddrs, createMeshNode, pingPeer, type MeshNode } from './node.js';
import { peerIdFromString } from '@libp2p/peer-id';
import { compileGlob } from '../security/glob.js';
import { PeerProvider } from './peer-provider.js';
import { serveShared, sharedOffer, type RunOnce } from './serve.js';
import { SharedContext } from './context/context.js';
import type { Db } from '../storage/database.js';

/** libp2p's listen failure without its stack traces and advice about options mcp-edge does not expose. */
function listenFailure(err: Error): string {
  const failed = [...err.message.matchAll(/^\s*(\/\S+): Error: (.*)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
  return failed.length > 0 ? failed.join('; ') : (err.message.split('\n')[0] ?? String(err));
}

/** What the gateway gives the mesh besides its settings. */
export interface MeshStartOptions {
  /** The node's key when it is not the key file's (mesh.identity = "tpm": the TPM's). */
  privateKey?: PrivateKey;
  /** This node's TPM (security.use_tpm): it answers peers' attestation questions. */
  prover?: AttestationProver;
  /** security.attestation_required: peers are called and served only once they attested. */
  attestation?: PeerAttestation;
  /** The gateway's database: where the shared context spaces (mesh.context) are kept. */
  db?: Db;
  /** The offline queue's idempotency memory: a peer's resent call runs once per key. */
  runOnce?: RunOnce;
}

/** The shortest a bootstrap dial may take before it is given up. */
const BOOTSTRAP_DIAL_TIMEOUT_MS = 30_000;
/** The shortest time connections may stay quiet (no peer heard, none opened) before they are judged half-open. */
const SILENT_LINK_MS = 15_000;

export class Mesh {
  /** Peer id -> its provider; kept when a peer leaves (down, no tools) so it comes back in place. */
  readonly peers = new Map<string, PeerProvider>();

  private sharedNow: SharedOffer = { tools: [], resources: [], prompts: [] };
  private rejoin: NodeJS.Timeout | undefined;
  readonly stats = new MeshStats();
  /** The shared context spaces (mesh.context); undefined when none is named. */
  context: SharedContext | undefined;

  private constructor(
    readonly node: MeshNode,
    readonly discovery: Discovery,
    private readonly settings: MeshSettings,
    private readonly aggregator: Aggregator,
    private readonly admit: MeshAdmission,
  ) {}

  get peerId(): string {
    return this.node.peerId.toString();
  }

  /** The addresses peers can dial, each ending in /p2p/<peer id>. */
  addresses(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString());
  }

  /** The remote addresses of the open connections to `peer` (a peer id it knows); "/p2p-circuit" in one means relayed. */
  links(peer: string): string[] {
    return this.node.getConnections(peerIdFromString(peer)).map((c) => c.remoteAddr.toString());
  }

  /** The tools this node shares now. */
  shared(): readonly SharedTool[] {
    return this.sharedNow.tools;
  }

  /** Everything this node shares now: tools, resources, prompts. */
  sharedOffer(): SharedOffer {
    return this.sharedNow;
  }

  /** The round trip to `peer` (a peer id) in ms, over libp2p ping; MeshError when it is not a peer id or does not answer. */
  async ping(peer: string, timeoutMs = 5_000): Promise<number> {
    let id;
    try {
      id = peerIdFromString(peer);
    } catch {
      throw new MeshError(`"${peer}" is not a peer id (the base58 text mcp-edge logs as mesh peer_id, e.g. 12D3KooW...)`);
    }
    try {
      return await pingPeer(this.node, id, AbortSignal.timeout(timeoutMs));
    } catch (err) {
      throw new MeshError(`peer ${peer} did not answer a ping within ${timeoutMs} ms: ${(err as Error).message}`);
    }
  }

  /** Who provides tool `name` (peer ids): live peers' announcements, or DHT provider records when none announced it. */
  async lookup(name: string, timeoutMs = 2_000): Promise<string[]> {
    const started = performance.now();
    try {
      return await this.discovery.lookup(name, timeoutMs);
    } finally {
      this.stats.lookup(started);
    }
  }

  /** The mesh's lines of GET /metrics. */
  metrics(): string {
    const peers = [...this.peers.values()].map((p) => ({ state: p.health().state, tools: p.catalog().tools.length }));
    const context = this.context && { ...this.context.sync.stats, spaces: [...this.context.spaces.values()].map((s) => ({ space: s.name, bytes: s.size().bytes })) };
    return meshMetrics({ connections: this.node.getConnections().length, peers, shared: this.sharedNow.tools.length }, this.stats, context);
  }

  private peerChanged(peer: string): void {
    const known = this.peers.get(peer);
    if (known) return known.refresh();
    if (!this.discovery.entry(peer)) return;
    const provider = new PeerProvider({ node: this.node, discovery: this.discovery, peer, callTimeoutMs: this.settings.callTimeoutMs, localityMs: this.settings.localityMs, stats: this.stats, admit: this.admit });
    this.peers.set(peer, provider);
    this.aggregator.add(provider);
  }

  /**
   * A node that is not in the mesh dials its bootstrap peers again, every
   * announce interval: a first dial that failed (the peer was not up yet, a
   * loaded machine) or a bootstrap node that restarted is not the end. Not in
   * the mesh means no connection at all, or connections over which no peer
   * has been heard for a while (every node announces each interval, even with
   * nothing to share): a half-open connection, whose other end is gone
   * without a word (a NAT that dropped its state, a peer that closed it under
   * load), looks alive here and would keep the node out for good; it is
   * closed and the bootstrap peers are dialled afresh. "A while" is three
   * intervals, and never less than SILENT_LINK_MS since the last peer was
   * heard or a connection opened: on a slow link or a loaded node the first
   * announcement takes longer than three short intervals to arrive, and
   * closing then started the same wait over, for good.
   */
  private keepJoined(log: Logger): void {
    const bootstrap = bootstrapAddrs(this.settings).map((a) => multiaddr(a));
    if (bootstrap.length === 0) return;
    const silentAfterMs = Math.max(3 * this.settings.announceIntervalMs, SILENT_LINK_MS);
    let quietSince = Date.now();
    this.node.addEventListener('connection:open', () => (quietSince = Date.now()));
    this.rejoin = setInterval(() => {
      const connections = this.node.getConnections();
      if (this.discovery.entries().length > 0) quietSince = Date.now();
      if (connections.length > 0 && Date.now() - quietSince < silentAfterMs) return;
      if (connections.length > 0) {
        log.warn(`mesh: connected, but no peer heard for ${silentAfterMs} ms; closing those connections and dialling the bootstrap peers again`, { connections: connections.length });
        for (const connection of connections) void connection.close().catch(() => connection.abort(new Error('no peer heard over it')));
      }
      quietSince = Date.now();
      for (const addr of bootstrap) {
        // Not the announce interval as a deadline: a loaded node (or bootstrap peer) takes longer than
        // a short interval to finish a handshake, and every retry would be cut off the same way.
        // A dial still under way when the next tick comes is joined by libp2p, not repeated.
        this.node.dial(addr, { signal: AbortSignal.timeout(Math.max(this.settings.announceIntervalMs, BOOTSTRAP_DIAL_TIMEOUT_MS)) }).catch((err: Error) => log.debug(`mesh: bootstrap peer ${addr.toString()} not reached`, { error: err.message }));
      }
    }, this.settings.announceIntervalMs);
    this.rejoin.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.rejoin);
    this.discovery.stop();
    await Promise.allSettled([...this.peers.values()].map((p) => p.close()));
    await this.node.stop();
    // After the node: no peer's update arrives at a space being closed.
    this.context?.close();
  }

  static async start(settings: MeshSettings, aggregator: Aggregator, log: Logger, options: MeshStartOptions = {}): Promise<Mesh> {
    const privateKey = options.privateKey ?? (await loadIdentity(settings.identityFile));
    const networkKey = settings.networkKeyFile ? loadNetworkKey(settings.networkKeyFile) : undefined;
    if (!networkKey) log.warn('mesh: open mesh (mesh.open = true): any node that reaches this one may join and call the shared tools');
    const node = await createMeshNode(settings, privateKey, networkKey);
    const discovery = new Discovery(node, settings.announceIntervalMs, log);
    const admit = meshAdmission(node, options.attestation);
    const mesh = new Mesh(node, discovery, settings, aggregator, admit);
    if (options.prover) await serveAttestation(node, options.prover, log);
    const preferRemote = settings.preferRemote.map((p) => compileGlob(p));
    aggregator.setOffload({ preferRemote: (name) => preferRemote.some((g) => g.matches(name)), fanOut: new Map(settings.fanOut.map((f) => [f.name, f.tool])) });
    mesh.sharedNow = sharedOffer(aggregator, settings);
    await serveShared(node, aggregator, () => mesh.sharedNow, admit, log, options.runOnce);
    if (settings.context.spaces.length > 0) {
      if (!options.db) throw new MeshError('mesh.context needs the gateway database to keep its spaces in');
      mesh.context = await SharedContext.attach(node, settings.context, options.db, admit, log);
    }
    discovery.onChange((peer) => mesh.peerChanged(peer));
    aggregator.onListChanged(() => {
      mesh.sharedNow = sharedOffer(aggregator, settings);
      discovery.share(mesh.sharedNow);
    });
    try {
      await node.start();
    } catch (err) {
      await Promise.resolve(node.stop()).catch(() => undefined);
      throw new MeshError(`the mesh cannot start: ${listenFailure(err as Error)}; check mesh.listen (another process on the port?)`);
    }
    await discovery.start();
    mesh.context?.sync.start();
    mesh.keepJoined(log);
    discovery.share(mesh.sharedNow);
    const offer = mesh.sharedNow;
    const missing = [
      ...settings.share.filter((name) => !offer.tools.some((t) => t.definition.name === name)),
      ...settings.shareResources.filter((uri) => !offer.resources.some((r) => r.definition.uri === uri)),
      ...settings.sharePrompts.filter((name) => !offer.prompts.some((p) => p.definition.name === name)),
    ];
    if (missing.length > 0) log.warn('mesh: mesh.share, share_resources or share_prompts name what this gateway does not list (yet); each is shared once listed', { missing });
    log.info('mesh listening', { peer_id: mesh.peerId, addresses: mesh.addresses(), shares: offer.tools.map((t) => t.definition.name), context: settings.context.spaces });
    return mesh;
  }
}
