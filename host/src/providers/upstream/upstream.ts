// One upstream MCP server as a provider: connects (stdio child, Streamable
// HTTP, legacy SSE), keeps its catalog fresh on list_changed, forwards calls
// with the client's cancellation and progress, and sends the upstream's own
// requests (sampling, elicitation, roots) to the client whose call is running.
// A crash or a lost connection marks it down and reconnects with bounded backoff.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  ElicitRequestSchema,
  ElicitResultSchema,
  ListRootsRequestSchema,
  ListRootsResultSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type CompleteRequest,
  type CompleteResult,
  type GetPromptResult,
  type LoggingLevel,
  type ReadResourceResult,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { UpstreamSettings } from '../../config/resolve.js';
import { CONNECTION_CLOSED, INVALID_REQUEST, REQUEST_TIMEOUT, SAMPLING_REFUSED } from '../../protocol/jsonrpc.js';
import type { Logger } from '../../telemetry/log.js';
import { interceptProgress, type ProgressRelays } from '../progress-relays.js';
import {
  ProviderUnavailableError,
  type CatalogPart,
  type Provider,
  type ProviderCallContext,
  type ProviderCatalog,
  type ProviderHealth,
} from '../provider.js';
import { CATALOG_PARTS, emptyCatalog, fetchPart, nameFilter } from './catalog.js';
import { coalesced } from './coalesce.js';
import { connectUpstream, type OpenedTransport, type UpstreamTls } from './transport.js';
import { Backoff } from './backoff.js';
import { chooseCaller } from './caller.js';
import { refusalMessage, routeSampling, type GatewaySampling } from './sampling.js';
import { SessionLinks } from './session-links.js';
import { hasDirectRequests } from './lean-call.js';
// The SDK's McpError, not protocol/mcp-error.ts's: its Client takes an abort reason as it is only when it is its own class.
import { isMcpError } from '../../protocol/mcp-error.js';

export interface UpstreamOptions {
  settings: UpstreamSettings;
  log: Logger;
  /** Who the gateway says it is to upstreams. */
  clientInfo: { name: string; version: string };
  /** Log messages and resource updates: for every client, or for one session when they came on its own connection. */
  onNotification?: (providerId: string, notification: ServerNotification, sessionId?: string) => void;
  /** Its own TLS settings (tls_ca, tls_cert: security/tls-outgoing.ts); the system's when absent. */
  tls?: UpstreamTls;
  /** The gateway's models answering sampling ([models] answer_sampling); absent, sampling always goes to the client. */
  sampling?: GatewaySampling;
}

type Listener = (part: CatalogPart | 'health') => void;
type Meta = { progressToken: string };

interface Relay {
  options: RequestOptions;
  /** `_meta` to send with the request, when the client asked for progress. */
  meta?: Meta;
  /** Waits until the relayed progress is sent; absent when the client asked for none. */
  flush?: () => Promise<void>;
  done?: () => void;
}

/**
 * The gateway's own server validates every tools/call result against
 * CallToolResultSchema before it goes to the client; parsing it here as well
 * would walk each result twice on the hot path.
 */
const UNCHECKED_RESULT = z.custom<CallToolResult>((value) => typeof value === 'object' && value !== null);

/** The longest timer Node accepts; the gateway's own timer governs calls with progress. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class UpstreamProvider implements Provider {
  readonly kind = 'upstream' as const;
  readonly id: string;
  readonly prefix?: string;
  readonly replicaGroup?: string;
  private client: Client | undefined;
  private opened: OpenedTransport | undefined;
  private current: ProviderCatalog = emptyCatalog();
  private state: ProviderHealth = { state: 'starting', since: Date.now(), detail: 'connecting (first attempt)' };
  private readonly listeners = new Set<Listener>();
  /** Calls in flight, oldest first: they decide who is asked the upstream's own requests. */
  private readonly callers: ProviderCallContext[] = [];
  private readonly keep: (name: string) => boolean;
  private readonly idempotent: ReadonlySet<string>;
  private readonly backoff: Backoff;
  private closed = false;
  /** Per-client connections (session_mode "per-client"), by gateway session id. */
  private readonly links: SessionLinks | undefined;
  /** Relays of in-flight calls that asked for progress, by the gateway's own token. */
  private readonly progress: ProgressRelays = new Map();
  private progressCounter = 0;
  /** Parts whose list_changed arrived while connecting. */
  private readonly staleParts = new Set<CatalogPart>();
  /** Put to sleep (power.sleep_on_idle_ms): the child is stopped, the catalog kept; the next call restarts it. */
  private asleep = false;
  private waking: Promise<void> | undefined;
  /** Asked to sleep while not up (starting, or restarting after a loss): it sleeps once up. */
  private sleepWhenUp = false;
  /** Resources clients are subscribed to here: asked again of each new connection (a restarted server forgot them). */
  private readonly subscribed = new Set<string>();
  /** The logging level clients last set: set again on each new connection, for the same reason. */
  private level: LoggingLevel | undefined;

  constructor(private readonly options: UpstreamOptions) {
    const s = options.settings;
    this.id = s.id;
    if (s.prefix) this.prefix = s.prefix;
    if (s.replicaGroup) this.replicaGroup = s.replicaGroup;
    this.keep = nameFilter(s.include, s.exclude);
    this.idempotent = new Set(s.idempotentTools);
    this.backoff = new Backoff(s.restart);
    if (s.sessionMode === 'per-client') this.links = new SessionLinks((id) => this.openLink(id), options.log);
  }

  get settings(): UpstreamSettings {
    return this.options.settings;
  }

  /** The child's pid (stdio), while it runs. */
  get pid(): number | undefined {
    return this.opened?.pid;
  }

  /** Which transport is connected: stdio, http or sse. */
  get transportKind(): string | undefined {
    return this.opened?.kind;
  }

  health(): ProviderHealth {
    return this.state;
  }

  catalog(): ProviderCatalog {
    return this.current;
  }

  idempotentTools(): ReadonlySet<string> {
    return this.idempotent;
  }

  routingWeights(): { localityMs: number; cost: number; energy: number } {
    return this.options.settings.weights;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(part: CatalogPart | 'health'): void {
    for (const listener of this.listeners) listener(part);
  }

  private setState(state: ProviderHealth['state'], detail?: string): void {
    this.state = { state, since: Date.now(), ...(detail ? { detail } : {}) };
    this.emit('health');
  }

  async start(): Promise<void> {
    this.closed = false;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = this.newClient();
    this.client = client;
    try {
      this.opened = await connectUpstream(client, this.options.settings, (line) => this.options.log.debug(`upstream ${this.id}: ${line}`), this.options.tls);
      if (this.client !== client) return;
      interceptProgress(this.opened.transport, this.progress);
      client.onclose = () => this.lost(client, 'the connection closed (the process exited or the server went away)');
      await this.refreshAll(client);
      if (this.client !== client) return;
      this.resubscribe(client);
      this.options.log.info(`upstream ${this.id} is up`, { transport: this.opened.kind, tools: this.current.tools.length });
      if (this.sleepWhenUp) void this.sleep();
    } catch (err) {
      // Closing calls onclose: the reason given must be this failure, not the close it causes.
      client.onclose = undefined;
      await client.close().catch(() => undefined);
      if (this.client === client) this.lost(client, `could not connect: ${(err as Error).message}`);
    }
  }

  /** The connection is gone: drop the catalog, say so, and schedule a reconnect. */
  private lost(client: Client, why: string): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.opened = undefined;
    const hadCatalog = CATALOG_PARTS.filter((p) => this.current[p].length > 0);
    this.current = emptyCatalog();
    if (this.closed) return;
    for (const part of hadCatalog) this.emit(part);
    const delay = this.backoff.next();
    if (delay === undefined) {
      this.options.log.error(`upstream ${this.id} is down for good: ${why}`, { restarts: this.backoff.failures });
      this.setState('down', `${why}; gave up after ${this.backoff.failures} attempts (restart.max_restarts)`);
      return;
    }
    this.options.log.warn(`upstream ${this.id} is down: ${why}; retrying in ${delay} ms`);
    this.setState('down', `${why}; retrying in ${delay} ms`);
    this.backoff.schedule(delay, () => {
      if (!this.closed) void this.connect();
    });
  }

  /** Whether the child is stopped for sleep (it restarts on the next call). */
  get sleeping(): boolean {
    return this.asleep;
  }

  /** A call in flight, or the child restarting after sleep. */
  get busy(): boolean {
    return this.callers.length > 0 || this.waking !== undefined;
  }

  /**
   * Stops an idle stdio child and keeps the catalog, so clients still see
   * its tools; the next call restarts it (see `awake`). Only a shared stdio
   * connection that is up with no call in flight sleeps; true when it did.
   * One still (re)connecting sleeps once it is up, unless the gateway woke first.
   */
  async sleep(): Promise<boolean> {
    const client = this.client;
    // Subscribed to: asleep, it would send none of the updates its subscribers wait for.
    if (this.asleep || this.closed || this.callers.length > 0 || this.subscribed.size > 0) return false;
    if (this.options.settings.connection.transport !== 'stdio' || this.links) return false;
    // A child that comes up while the gateway sleeps would otherwise run until the next call.
    if (!client || this.state.state !== 'up') {
      this.sleepWhenUp = true;
      return false;
    }
    this.sleepWhenUp = false;
    this.asleep = true;
    // Detached first: its close is not a loss (lost() ignores a client that is not current).
    this.client = undefined;
    this.opened = undefined;
    await client.close().catch(() => undefined);
    this.options.log.debug(`upstream ${this.id} is asleep (its process stopped until the next call)`);
    return true;
  }

  /** The gateway woke before this one came up: it stays up. */
  cancelSleep(): void {
    this.sleepWhenUp = false;
  }

  /** Restarts a sleeping child (once, however many calls wait for it). */
  private awake(): Promise<void> {
    if (!this.asleep) return Promise.resolve();
    this.waking ??= this.connect().finally(() => {
      this.asleep = false;
      this.waking = undefined;
    });
    return this.waking;
  }

  /** Opens one client session's own connection (session_mode "per-client"). */
  private async openLink(sessionId: string): Promise<Client> {
    const client = this.newClient(sessionId);
    try {
      const opened = await connectUpstream(client, this.options.settings, (line) => this.options.log.debug(`upstream ${this.id} (a client's session): ${line}`), this.options.tls);
      interceptProgress(opened.transport, this.progress);
      return client;
    } catch (err) {
      await client.close().catch(() => undefined);
      throw new ProviderUnavailableError(this.id, `could not open a session for this client: ${(err as Error).message}`);
    }
  }

  /** Open per-client connections, when session_mode is "per-client". */
  get sessionLinks(): number | undefined {
    return this.links?.size;
  }

  sessionClosed(sessionId: string): void {
    void this.links?.close(sessionId);
  }

  /** A client for the shared connection, or (sessionId given) for one client session's own connection. */
  private newClient(sessionId?: string): Client {
    const client = new Client(this.options.clientInfo, {
      capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } },
    });
    client.setRequestHandler(CreateMessageRequestSchema, (req, extra) => {
      const ask = () => this.askCaller('sampling/createMessage', (c) => c.sendRequest(req, CreateMessageResultSchema, { signal: extra.signal }), sessionId);
      const sampling = this.options.sampling;
      if (!sampling) return ask();
      const route = routeSampling(this.callersOf(sessionId), sampling.mode);
      if (route.to === 'client') return ask();
      if (route.to === 'gateway') return sampling.answer(req.params, extra.signal);
      throw new McpError(SAMPLING_REFUSED, refusalMessage(route.code, this.id), { code: route.code });
    });
    client.setRequestHandler(ElicitRequestSchema, (req, extra) =>
      this.askCaller('elicitation/create', (c) => c.sendRequest(req, ElicitResultSchema, { signal: extra.signal }), sessionId),
    );
    client.setRequestHandler(ListRootsRequestSchema, (req, extra) =>
      this.askCaller('roots/list', (c) => c.sendRequest(req, ListRootsResultSchema, { signal: extra.signal }), sessionId),
    );
    // The lists come from the shared connection; a client's own connection only carries its calls.
    if (sessionId === undefined) {
      // A burst of list_changed reads the list once more after the read in progress, not once per notification.
      const refresh = (...parts: CatalogPart[]) => coalesced(() => this.refresh(client, parts));
      client.setNotificationHandler(ToolListChangedNotificationSchema, refresh('tools'));
      client.setNotificationHandler(PromptListChangedNotificationSchema, refresh('prompts'));
      client.setNotificationHandler(ResourceListChangedNotificationSchema, refresh('resources', 'resourceTemplates'));
    }
    const forward = (n: ServerNotification) => this.options.onNotification?.(this.id, n, sessionId);
    client.setNotificationHandler(LoggingMessageNotificationSchema, forward);
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, forward);
    return client;
  }

  /** The calls in flight an upstream request may belong to: all of them on the shared connection, one session's on its own. */
  private callersOf(sessionId: string | undefined): ProviderCallContext[] {
    return sessionId === undefined ? this.callers : this.callers.filter((c) => c.client?.sessionId === sessionId);
  }

  /**
   * Sends one of the upstream's own requests to the client it belongs to: on
   * a client's own connection, that client; on the shared one, see caller.ts.
   */
  private async askCaller<T>(method: string, ask: (client: NonNullable<ProviderCallContext['client']>) => Promise<T>, sessionId?: string): Promise<T> {
    const choice = chooseCaller(this.callersOf(sessionId));
    if (choice.kind === 'client') return ask(choice.client);
    if (choice.kind === 'none') throw new McpError(INVALID_REQUEST, `mcp-edge has no client call in progress to send ${method} to.`);
    throw new McpError(
      INVALID_REQUEST,
      `mcp-edge cannot tell which client ${method} from upstream "${this.id}" belongs to: ${choice.sessions} client sessions have calls in flight to it, and the shared connection does not say. It was refused rather than shown to the wrong client; retry when the other calls finish, or set session_mode = "per-client" on this upstream.`,
    );
  }

  /** A catalog item left out (catalog.ts says why). */
  private readonly dropped = (what: string): void => this.options.log.warn(`upstream ${this.id}: left out ${what}`);

  /**
   * Reads every list into a fresh catalog, then publishes it with the state
   * "up" before announcing the parts: a client must never see a tool whose
   * provider the router still holds unavailable. A list_changed that arrived
   * meanwhile is replayed afterwards.
   */
  private async refreshAll(client: Client): Promise<void> {
    const next = emptyCatalog() as unknown as Record<CatalogPart, unknown[]>;
    for (const part of CATALOG_PARTS) next[part] = await fetchPart(client, part, this.keep, this.options.settings.connectTimeoutMs, this.dropped);
    if (this.client !== client) return;
    const before = this.current as unknown as Record<CatalogPart, unknown[]>;
    this.current = next as unknown as ProviderCatalog;
    this.backoff.up();
    this.setState('up');
    // After a wake from sleep the catalog was kept: a part that came back the same is not announced again.
    for (const part of CATALOG_PARTS) if (before[part].length !== next[part].length || JSON.stringify(before[part]) !== JSON.stringify(next[part])) this.emit(part);
    const missed = [...this.staleParts];
    this.staleParts.clear();
    if (missed.length > 0) await this.refresh(client, missed);
  }

  private async refresh(client: Client, parts: CatalogPart[]): Promise<void> {
    if (this.state.state !== 'up') {
      for (const part of parts) this.staleParts.add(part);
      return;
    }
    try {
      for (const part of parts) {
        const items = await fetchPart(client, part, this.keep, this.options.settings.timeoutMs, this.dropped);
        if (this.client !== client) return;
        (this.current as unknown as Record<CatalogPart, unknown[]>)[part] = items;
        this.emit(part);
      }
    } catch (err) {
      this.options.log.warn(`upstream ${this.id}: refreshing ${parts.join(', ')} failed`, { error: (err as Error).message });
    }
  }

  private requireClient(): Client {
    if (this.client && this.state.state === 'up') return this.client;
    throw new ProviderUnavailableError(this.id, this.state.detail ?? `it is ${this.state.state}`);
  }

  /**
   * Request options carrying the client's cancellation and, when it asked for
   * progress, a token of the gateway's own in `_meta` whose notifications are
   * relayed to the client under the client's token. The relay is fed straight
   * from the transport (see `interceptProgress`): the SDK dispatches progress a
   * microtask late, after a response that arrived in the same chunk, and would
   * drop the last step. The time limit restarts on each progress, as the SDK's
   * resetTimeoutOnProgress would. `flush` waits until relayed progress is sent,
   * so it reaches the client before the result.
   */
  private requestOptions(context: ProviderCallContext): Relay {
    const timeoutMs = this.options.settings.timeoutMs;
    const { client, progressToken } = context;
    if (progressToken === undefined || !client) {
      return { options: { signal: context.signal, timeout: timeoutMs } };
    }
    const token = `mcp-edge-${this.id}-${++this.progressCounter}`;
    const limit = new AbortController();
    const expire = () => limit.abort(new McpError(REQUEST_TIMEOUT, `Request timed out after ${timeoutMs} ms without progress`));
    let timer = setTimeout(expire, timeoutMs);
    let relayed: Promise<void> = Promise.resolve();
    this.progress.set(token, (params) => {
      clearTimeout(timer);
      timer = setTimeout(expire, timeoutMs);
      const { progressToken: _upstreamToken, ...rest } = params;
      const sent = client.sendNotification({ method: 'notifications/progress', params: { ...rest, progressToken } });
      relayed = relayed.then(() => sent).catch(() => undefined);
    });
    return {
      options: { signal: AbortSignal.any([context.signal, limit.signal]), timeout: MAX_TIMER_MS },
      meta: { progressToken: token },
      flush: () => relayed,
      done: () => {
        clearTimeout(timer);
        this.progress.delete(token);
      },
    };
  }

  /** Runs `fn` as a tracked call; a transport failure on HTTP triggers a reconnect. */
  private async tracked<T>(context: ProviderCallContext, fn: (client: Client, options: RequestOptions, meta?: Meta) => Promise<T>): Promise<T> {
    // Each await is a turn of the microtask queue per call: only taken when there is something to wait for.
    if (this.asleep) await this.awake();
    const shared = this.requireClient();
    const sessionId = this.links ? context.client?.sessionId : undefined;
    const client = sessionId === undefined ? shared : await this.links!.get(sessionId);
    const { options, meta, flush, done } = this.requestOptions(context);
    this.callers.push(context);
    try {
      const result = await fn(client, options, meta);
      if (flush) await flush();
      return result;
    } catch (err) {
      if (sessionId !== undefined && isTransportFailure(err)) this.links!.drop(sessionId);
      else if (this.options.settings.connection.transport !== 'stdio' && isTransportFailure(err)) {
        void client.close().catch(() => undefined);
        this.lost(client, `a request failed: ${(err as Error).message}`);
      }
      throw err;
    } finally {
      done?.();
      this.callers.splice(this.callers.indexOf(context), 1);
    }
  }

  callTool(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext): Promise<CallToolResult> {
    return this.tracked(context, (c, o, progressMeta) => {
      const _meta = context.meta ? { ...context.meta, ...progressMeta } : progressMeta;
      const request = { method: 'tools/call', params: { name, ...(args ? { arguments: args } : {}), ...(_meta ? { _meta } : {}) } };
      // The lean HTTP transport answers it itself, past the Client's per-request bookkeeping (lean-call.ts).
      const transport = c.transport;
      if (hasDirectRequests(transport)) return transport.directRequest(request, { ...(o.signal ? { signal: o.signal } : {}), timeout: o.timeout ?? this.options.settings.timeoutMs }) as Promise<CallToolResult>;
      return c.request(request, UNCHECKED_RESULT, o);
    });
  }

  readResource(uri: string, context: ProviderCallContext): Promise<ReadResourceResult> {
    return this.tracked(context, (c, o) => c.readResource({ uri }, o));
  }

  getPrompt(name: string, args: Record<string, string> | undefined, context: ProviderCallContext): Promise<GetPromptResult> {
    return this.tracked(context, (c, o) => c.getPrompt({ name, ...(args ? { arguments: args } : {}) }, o));
  }

  complete(params: CompleteRequest['params'], context: ProviderCallContext): Promise<CompleteResult> {
    return this.tracked(context, (c, o) => c.complete(params, o));
  }

  async setLoggingLevel(level: LoggingLevel): Promise<void> {
    this.level = level;
    const client = this.client;
    if (client?.getServerCapabilities()?.logging) await client.setLoggingLevel(level, { timeout: this.options.settings.timeoutMs });
  }

  async subscribe(uri: string): Promise<void> {
    // Kept first: an upstream that is down now is asked when it is back.
    this.subscribed.add(uri);
    await this.awake();
    const client = this.requireClient();
    if (client.getServerCapabilities()?.resources?.subscribe) await client.subscribeResource({ uri });
  }

  async unsubscribe(uri: string): Promise<void> {
    if (!this.subscribed.delete(uri)) return;
    const client = this.client;
    if (client?.getServerCapabilities()?.resources?.subscribe) await client.unsubscribeResource({ uri });
  }

  /** Asks a new connection for the logging level and subscriptions the last one had; one that fails is logged, the others go on. */
  private resubscribe(client: Client): void {
    const timeout = this.options.settings.timeoutMs;
    const caps = client.getServerCapabilities();
    if (this.level && caps?.logging) {
      client.setLoggingLevel(this.level, { timeout }).catch((err: unknown) => {
        this.options.log.warn(`upstream ${this.id}: setting the logging level again after reconnecting failed`, { error: (err as Error).message });
      });
    }
    if (this.subscribed.size === 0 || !caps?.resources?.subscribe) return;
    for (const uri of this.subscribed) {
      client.subscribeResource({ uri }, { timeout }).catch((err: unknown) => {
        this.options.log.warn(`upstream ${this.id}: subscribing again to ${uri} after reconnecting failed`, { error: (err as Error).message });
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.backoff.cancel();
    await this.links?.closeAll();
    const client = this.client;
    this.client = undefined;
    this.opened = undefined;
    await client?.close().catch(() => undefined);
    this.setState('disabled', 'closed by the gateway');
  }
}

/** Whether an error means the connection failed (not that the upstream answered with an error). */
export function isTransportFailure(err: unknown): boolean {
  if (isMcpError(err)) return err.code === CONNECTION_CLOSED;
  return !(err instanceof ProviderUnavailableError);
}
