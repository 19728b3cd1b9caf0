// A peer gateway as a provider: the tools, resources and prompts it shares
// (from its announcements), called, read and got over one MCP session on a
// libp2p stream, opened on first use and again after it closes. Every peer sits in the "mesh" replica group, so a tool two
// peers share is one tool with two replicas, ranked by the core's router.
import { peerIdFromString } from '@libp2p/peer-id';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, type CallToolResult, type GetPromptResult, type Prompt, type ReadResourceResult, type Resource, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { CONNECTION_CLOSED, REQUEST_TIMEOUT } from '../protocol/jsonrpc.js';
import { interceptProgress, type ProgressRelays } from '../providers/progress-relays.js';
import { ProviderUnavailableError, type CatalogPart, type Provider, type ProviderCallContext, type ProviderCatalog, type ProviderHealth } from '../providers/provider.js';
import { VERSION } from '../version.js';
import type { MeshAdmission } from './attestation.js';
import type { Discovery } from './discovery.js';
import type { MeshStats } from './metrics.js';
import { dialPeer, type MeshNode } from './node.js';
import { MCP_PROTOCOL, StreamClosedError, StreamTransport } from './stream-transport.js';
// The SDK's McpError, not protocol/mcp-error.ts's: its Client takes an abort reason as it is only when it is its own class.
import { isMcpError } from '../protocol/mcp-error.js';

/** Results are passed on as the peer sent them (its gateway checked them already). */
const UNCHECKED_RESULT = z.custom<CallToolResult>((value) => typeof value === 'object' && value !== null);

/** The longest timer Node accepts; the provider's own timer governs calls. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface PeerProviderOptions {
  node: MeshNode;
  discovery: Discovery;
  peer: string;
  callTimeoutMs: number;
  localityMs: number;
  stats: MeshStats;
  /** Resolves once the peer may be called (security.attestation_required: it attested). */
  admit: MeshAdmission;
}

export class PeerProvider implements Provider {
  readonly id: string;
  /** The peer's id. */
  readonly peer: string;
  readonly kind = 'peer' as const;
  readonly prefix = 'mesh';
  readonly replicaGroup = 'mesh';
  private state: ProviderHealth = { state: 'starting', since: Date.now() };
  private tools: Tool[] = [];
  private resources: Resource[] = [];
  private prompts: Prompt[] = [];
  private idempotent = new Set<string>();
  private readonly listeners = new Set<(part: CatalogPart | 'health') => void>();
  private session: Promise<Client> | undefined;
  private progressCounter = 0;
  /** Progress relays of calls in flight, by the token sent to the peer. */
  private readonly progress: ProgressRelays = new Map();

  constructor(private readonly options: PeerProviderOptions) {
    this.peer = options.peer;
    this.id = `peer-${options.peer}`;
    this.refresh();
  }

  /** Takes the peer's latest announcement (or its absence) from the directory. */
  refresh(): void {
    const entry = this.options.discovery.entry(this.options.peer);
    this.tools = entry?.tools.map((t) => t.definition) ?? [];
    this.idempotent = new Set(entry?.tools.filter((t) => t.idempotent).map((t) => t.definition.name) ?? []);
    this.resources = entry?.resources.map((r) => r.definition) ?? [];
    this.prompts = entry?.prompts.map((p) => p.definition) ?? [];
    this.setState(entry ? 'up' : 'down', entry ? undefined : 'the peer left the mesh (its connection closed or it stopped announcing)');
    this.emit('tools');
    this.emit('resources');
    this.emit('prompts');
  }

  health(): ProviderHealth {
    return this.state;
  }

  catalog(): ProviderCatalog {
    return { tools: this.tools, resources: this.resources, resourceTemplates: [], prompts: this.prompts };
  }

  idempotentTools(): ReadonlySet<string> {
    return this.idempotent;
  }

  routingWeights(): { localityMs: number; cost: number; energy: number } {
    return { localityMs: this.options.localityMs, cost: 0, energy: 0 };
  }

  onChange(listener: (part: CatalogPart | 'health') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.then((c) => c.close()).catch(() => undefined);
    this.setState('disabled', 'closed by the gateway');
  }

  async callTool(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext): Promise<CallToolResult> {
    if (this.state.state !== 'up') throw new ProviderUnavailableError(this.id, this.state.detail ?? 'the peer is not in the mesh');
    // Refused before anything is sent: the aggregator may try another replica.
    await this.options.admit(this.peer).catch((err: Error) => {
      throw new ProviderUnavailableError(this.id, err.message);
    });
    const started = performance.now();
    try {
      const result = await this.call(name, args, context);
      this.options.stats.call(started, undefined, false);
      return result;
    } catch (err) {
      this.options.stats.call(started, err, context.signal.aborted);
      throw err;
    }
  }

  private async call(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext, resent = false): Promise<CallToolResult> {
    const client = await this.connect(context.signal);
    // The gateway's own token and timer: progress is relayed from the wire (the SDK
    // dispatches notifications a tick late and would drop the last one), and each
    // progress notification restarts the time limit, as for an upstream.
    const token = `mcp-edge-mesh-${++this.progressCounter}`;
    const timeoutMs = this.options.callTimeoutMs;
    const limit = new AbortController();
    const expire = () => limit.abort(new McpError(REQUEST_TIMEOUT, `Request timed out: peer ${this.options.peer} sent nothing for ${timeoutMs} ms (mesh.call_timeout_ms)`));
    let timer = setTimeout(expire, timeoutMs);
    let relayed: Promise<unknown> = Promise.resolve();
    const { client: caller, progressToken } = context;
    this.progress.set(token, (params) => {
      clearTimeout(timer);
      timer = setTimeout(expire, timeoutMs);
      if (!caller || progressToken === undefined) return;
      const { progressToken: _peerToken, ...rest } = params;
      const sent = caller.sendNotification({ method: 'notifications/progress', params: { ...rest, progressToken } });
      relayed = relayed.then(() => sent).catch(() => undefined);
    });
    const _meta = { ...context.meta, progressToken: token };
    try {
      const result = await client.request({ method: 'tools/call', params: { name, ...(args ? { arguments: args } : {}), _meta } }, UNCHECKED_RESULT, {
        signal: AbortSignal.any([context.signal, limit.signal]),
        timeout: MAX_TIMER_MS,
      });
      await relayed;
      return result;
    } catch (err) {
      if (err instanceof StreamClosedError && !resent && !context.signal.aborted) {
        // The session's stream had closed (its connection went) before this request was written: the peer never
        // got it, so it goes once more on a new stream (found by test/mesh-churn: a live peer's call failed so).
        await client.close().catch(() => undefined);
        return await this.call(name, args, context, true);
      }
      if (isMcpError(err) && err.code === CONNECTION_CLOSED && !context.signal.aborted) {
        throw new McpError(CONNECTION_CLOSED, `the mesh connection to peer ${this.options.peer} closed before it answered (the peer stopped or the link failed)`);
      }
      throw err;
    } finally {
      clearTimeout(timer);
      this.progress.delete(token);
    }
  }

  async readResource(uri: string, context: ProviderCallContext): Promise<ReadResourceResult> {
    return this.ask(context, (client, signal) => client.readResource({ uri }, { signal, timeout: this.options.callTimeoutMs }));
  }

  async getPrompt(name: string, args: Record<string, string> | undefined, context: ProviderCallContext): Promise<GetPromptResult> {
    return this.ask(context, (client, signal) => client.getPrompt({ name, ...(args ? { arguments: args } : {}) }, { signal, timeout: this.options.callTimeoutMs }));
  }

  /** A read or a prompt: asked once the peer is up and admitted; a closed session is a link failure (the next replica may answer). */
  private async ask<T>(context: ProviderCallContext, request: (client: Client, signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.state.state !== 'up') throw new McpError(CONNECTION_CLOSED, this.state.detail ?? `peer ${this.options.peer} is not in the mesh`);
    await this.options.admit(this.peer).catch((err: Error) => {
      throw new McpError(CONNECTION_CLOSED, `peer ${this.options.peer} is not admitted: ${err.message}`);
    });
    const client = await this.connect(context.signal);
    return request(client, context.signal);
  }

  /** The MCP session with the peer, opened (stream + initialize) on first use and after it closed. */
  private connect(signal: AbortSignal): Promise<Client> {
    if (this.session) return this.session;
    const opening = (async () => {
      let stream;
      try {
        stream = await dialPeer(this.options.node, peerIdFromString(this.options.peer), MCP_PROTOCOL, AbortSignal.any([signal, AbortSignal.timeout(this.options.callTimeoutMs)]));
      } catch (err) {
        throw new McpError(CONNECTION_CLOSED, `cannot open an MCP stream to peer ${this.options.peer}: ${(err as Error).message}`);
      }
      const transport = new StreamTransport(stream);
      const client = new Client({ name: 'mcp-edge-mesh', version: VERSION });
      client.onclose = () => {
        if (this.session === opening) this.session = undefined;
      };
      try {
        await client.connect(transport, { timeout: this.options.callTimeoutMs });
      } catch (err) {
        // The stream opened but the session did not (the peer closed it, or initialize failed or timed out):
        // nothing was asked of the peer yet. Said as a link failure, not as the SDK's bare "Connection closed".
        await client.close().catch(() => undefined);
        throw new McpError(CONNECTION_CLOSED, `cannot open an MCP session with peer ${this.options.peer}: ${(err as Error).message}`);
      }
      interceptProgress(transport, this.progress);
      return client;
    })();
    this.session = opening;
    opening.catch(() => {
      if (this.session === opening) this.session = undefined;
    });
    return opening;
  }

  private setState(state: ProviderHealth['state'], detail?: string): void {
    if (this.state.state === state && this.state.detail === detail) return;
    this.state = { state, since: Date.now(), ...(detail ? { detail } : {}) };
    this.emit('health');
  }

  private emit(part: CatalogPart | 'health'): void {
    for (const listener of this.listeners) listener(part);
  }
}
