// Where tools come from. A provider is anything that offers MCP tools,
// resources and prompts to the gateway: the in-process plugins, an upstream MCP
// server (stdio or HTTP), a peer gateway. The aggregator merges them into the
// one view clients see, and the core's router picks among replicas.
import type {
  CallToolResult,
  CompleteRequest,
  CompleteResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ClientCapabilities, LoggingLevel, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';

export type ProviderKind = 'local' | 'upstream' | 'peer';

export type ProviderState = 'starting' | 'up' | 'down' | 'disabled';

export interface ProviderHealth {
  state: ProviderState;
  /** Why it is not up, in words a user can act on. */
  detail?: string;
  /** When the state last changed (ms since epoch). */
  since: number;
}

/**
 * What a provider gets with each forwarded request: cancellation, and the
 * client-facing request's channel back to the client (for progress, logging,
 * sampling and elicitation that the provider forwards).
 */
export interface ProviderCallContext {
  signal: AbortSignal;
  /** The client's request context, when the call came from an MCP client. */
  client?: RequestHandlerExtra<ServerRequest, ServerNotification>;
  /** What that client declared it can do (sampling decides whether the gateway answers an upstream's sampling itself). */
  clientCapabilities?: ClientCapabilities;
  /** The client's progress token, if it asked for progress. */
  progressToken?: string | number;
  /** Extra `_meta` for the request (the offline queue's idempotency key on a delivery). */
  meta?: Record<string, unknown>;
  /** Where the router's caller notes the provider it used (analytics, tracing). */
  routed?: CallRouting;
  /**
   * Served for a mesh peer: only this gateway's own providers may run it,
   * never another peer's replica (a tool that prefers remote replicas would
   * otherwise bounce between nodes).
   */
  ownOnly?: boolean;
}

/** Filled in by the router's caller (gateway/aggregator/routing.ts) as it tries providers. */
export interface CallRouting {
  /** The provider tried last. */
  provider?: string;
  /** Wraps each try of a provider (a tracing span); absent, the try runs as it is. */
  attempt?: <T>(provider: { id: string; kind: ProviderKind }, run: () => Promise<T>) => Promise<T>;
}

/** The lists a provider offers, as it last reported them. */
export interface ProviderCatalog {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
}

export type CatalogPart = keyof ProviderCatalog;

export interface Provider {
  /** Unique among providers; the namespace prefix when names are prefixed. */
  readonly id: string;
  readonly kind: ProviderKind;
  health(): ProviderHealth;
  /** The current lists (cached; providers refresh them on list_changed). */
  catalog(): ProviderCatalog;
  callTool(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext): Promise<CallToolResult>;
  readResource(uri: string, context: ProviderCallContext): Promise<ReadResourceResult>;
  getPrompt(name: string, args: Record<string, string> | undefined, context: ProviderCallContext): Promise<GetPromptResult>;
  complete?(params: CompleteRequest['params'], context: ProviderCallContext): Promise<CompleteResult>;
  /** Calls `listener` when a part of the catalog or the health changes; returns an unsubscribe function. */
  onChange(listener: (part: CatalogPart | 'health') => void): () => void;
  /** Forwards a client's logging/setLevel (optional: providers without logging ignore it). */
  setLoggingLevel?(level: LoggingLevel): Promise<void>;
  /** Subscribes to updates of a resource it offers (optional). */
  subscribe?(uri: string): Promise<void>;
  unsubscribe?(uri: string): Promise<void>;
  /** Tools whose calls are safe to retry on another replica, beyond annotations.idempotentHint. */
  idempotentTools?(): ReadonlySet<string>;
  /** Weights for ranking this provider among replicas (latency-equivalents). */
  routingWeights?(): { localityMs: number; cost: number; energy: number };
  /** Providers sharing a replica group offer one tool per name, routed by the core. */
  readonly replicaGroup?: string;
  /** Namespace prefix; the id by default; "" never prefixes. */
  readonly prefix?: string;
  /** Starts the provider (spawn, connect); resolves when it is up or has failed and will retry. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** A client session ended: release anything kept for it (per-client upstream connections). */
  sessionClosed?(sessionId: string): void;
}

/** A call reached a provider that is not up; `detail` says why, in words a user can act on. */
export class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
  constructor(
    readonly providerId: string,
    detail: string,
  ) {
    super(`Provider "${providerId}" is unavailable: ${detail}`);
  }
}
