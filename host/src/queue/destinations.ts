// Where deferred calls go and how they get there. A destination is a URL
// (Streamable HTTP, one client per destination: mcp-deliverer.ts), a
// configured upstream, whose provider carries the call over its own stdio or
// HTTP connection, with the idempotency key in `_meta`, or the mesh: the call
// goes to a peer that shares the tool once one does. Every upstream is a
// destination, named after it unless [offline.destinations] names one for it,
// so that tools the upstream marks deferrable have somewhere to wait.
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { QueueSettings } from '../config/resolve.js';
import type { Aggregator } from '../gateway/aggregator/aggregator.js';
import { isLinkFailure, PROVIDER_UNAVAILABLE } from '../protocol/jsonrpc.js';
import { ProviderUnavailableError, type Provider } from '../providers/provider.js';
import { withheldError } from '../security/pinning/pins.js';
import { DEFERRABLE_TOOL_META_KEY } from './annotation.js';
import { IDEMPOTENCY_META_KEY } from './idempotency.js';
import type { DestinationOptions } from './queue.js';
import { DestinationError, type Deliverer, type DeliveryCall } from './delivery.js';
import { isMcpError } from '../protocol/mcp-error.js';

/** A deferred call's destination and the tool name to call there. */
export interface Deferral {
  destination: string;
  tool: string;
}

export type DeferralResolver = (publicName: string) => Deferral | undefined;

export interface DestinationPlan {
  /** Bounds per destination name. */
  bounds: Record<string, DestinationOptions>;
  /** URL destinations: name -> URL. */
  urls: Record<string, string>;
  /** Upstream destinations: name -> upstream id. */
  upstreamOf: Map<string, string>;
  /** Upstream id -> the destination its calls wait in. */
  destinationOf: Map<string, string>;
  /** Mesh destinations: their calls go to whichever peer shares the tool. */
  mesh: Set<string>;
}

/** The destinations as the router of deferred calls needs them (config/resolve.ts lists them). */
export function planDestinations(settings: QueueSettings): DestinationPlan {
  const plan: DestinationPlan = { bounds: {}, urls: {}, upstreamOf: new Map(), destinationOf: new Map(), mesh: new Set() };
  for (const [name, { target, ...bounds }] of Object.entries(settings.destinations)) {
    plan.bounds[name] = bounds;
    if ('url' in target) plan.urls[name] = target.url;
    else if ('mesh' in target) plan.mesh.add(name);
    else {
      plan.upstreamOf.set(name, target.upstream);
      if (!plan.destinationOf.has(target.upstream)) plan.destinationOf.set(target.upstream, name);
    }
  }
  return plan;
}

function providerById(aggregator: Aggregator, id: string): Provider | undefined {
  return aggregator.slots.find((s) => s.provider.id === id)?.provider;
}

/**
 * Which calls defer, and where: a tool named in [offline.deferrable_tools]
 * goes to its destination; any other tool whose upstream marks it deferrable
 * goes to that upstream's destination.
 */
export function deferralResolver(settings: QueueSettings, plan: DestinationPlan, aggregator: Aggregator, memory: MarkedTools): DeferralResolver {
  const configured = settings.deferrableTools;
  const separator = settings.separator;
  return (name) => {
    const destination = Object.hasOwn(configured, name) ? configured[name] : undefined;
    const target = aggregator.toolTarget(name);
    if (destination !== undefined) {
      const upstream = plan.upstreamOf.get(destination);
      if (upstream === undefined) return { destination, tool: name };
      if (target?.provider.id === upstream) return { destination, tool: target.name };
      // Not listed now (the upstream is down): the name without its namespace prefix.
      const provider = providerById(aggregator, upstream);
      const prefix = `${provider?.prefix ?? upstream}${separator}`;
      return { destination, tool: name.startsWith(prefix) ? name.slice(prefix.length) : name };
    }
    // Listed now: its own mark decides. Not listed (its upstream is down): what it said when it was.
    if (!target) return memory.get(name);
    return markedDeferral(plan, target.provider, target.tool._meta, target.name);
  };
}

/** Which upstream tools the aggregator lists with task support: configured ones and marked ones. */
export function listedAsDeferrable(settings: QueueSettings, plan: DestinationPlan): (name: string, tool: Tool, provider: Provider) => boolean {
  const configured = settings.deferrableTools;
  return (name, tool, provider) => {
    const destination = Object.hasOwn(configured, name) ? configured[name] : undefined;
    if (destination !== undefined) return plan.upstreamOf.get(destination) === provider.id || (plan.mesh.has(destination) && provider.kind === 'peer');
    return markedDeferral(plan, provider, tool._meta, tool.name) !== undefined;
  };
}

/** A tool its upstream marked deferrable waits in that upstream's destination; one a mesh peer shares marked, in the first mesh destination. */
function markedDeferral(plan: DestinationPlan, provider: Provider, meta: Record<string, unknown> | undefined, tool: string): Deferral | undefined {
  if (provider.kind === 'local' || meta?.[DEFERRABLE_TOOL_META_KEY] !== true) return undefined;
  const destination = provider.kind === 'peer' ? plan.mesh.values().next().value : plan.destinationOf.get(provider.id);
  return destination === undefined ? undefined : { destination, tool };
}

/**
 * The tools upstreams (and mesh peers) marked deferrable, remembered in
 * SQLite: an upstream that is down lists nothing, yet calls to its marked
 * tools must still wait for it, also after a restart of the gateway. Updated
 * whenever the merged tool list changes; a tool is forgotten only when its
 * upstream is up and no longer marks it. A peer's provider exists only once
 * the peer was heard from since the start, so a peer's mark is also kept
 * while its provider is absent.
 */
type Mark = Deferral & { upstream: string; peer?: true };

export class MarkedTools {
  private marked: Map<string, Mark>;

  constructor(
    private readonly load: () => string | undefined,
    private readonly save: (json: string) => void,
  ) {
    let saved: [string, Mark][] = [];
    try {
      saved = JSON.parse(load() ?? '[]') as typeof saved;
    } catch {
      // An unreadable memory is an empty one; the next list change rewrites it.
    }
    this.marked = new Map(Array.isArray(saved) ? saved : []);
  }

  get(name: string): Deferral | undefined {
    const m = this.marked.get(name);
    return m && { destination: m.destination, tool: m.tool };
  }

  /** Re-reads the merged list; keeps marks of upstreams that are not up. */
  refresh(plan: DestinationPlan, aggregator: Aggregator): void {
    const next = new Map<string, Mark>();
    for (const [name, m] of this.marked) {
      const provider = providerById(aggregator, m.upstream);
      if (provider ? provider.health().state !== 'up' : m.peer === true) next.set(name, m);
    }
    for (const tool of aggregator.listTools()) {
      const target = aggregator.toolTarget(tool.name);
      const d = target && markedDeferral(plan, target.provider, target.tool._meta, target.name);
      if (d && target) next.set(tool.name, { ...d, upstream: target.provider.id, ...(target.provider.kind === 'peer' ? { peer: true as const } : {}) });
    }
    const json = JSON.stringify([...next]);
    if (json !== JSON.stringify([...this.marked])) this.save(json);
    this.marked = next;
  }
}

/**
 * Delivers to upstream destinations through their providers and to URL
 * destinations through `viaUrl`. A provider that is down, or a connection
 * that breaks, is a link failure (the call waits and is retried); an error
 * answer from the upstream is final.
 */
export function providerDeliverer(plan: DestinationPlan, aggregator: Aggregator, viaUrl: Deliverer): Deliverer {
  return async (destination, call, signal): Promise<CallToolResult> => {
    if (plan.mesh.has(destination)) return deliverOverMesh(aggregator, destination, call, signal);
    const upstream = plan.upstreamOf.get(destination);
    if (upstream === undefined) return viaUrl(destination, call, signal);
    const provider = providerById(aggregator, upstream);
    if (!provider) throw new Error(`upstream "${upstream}" is not running`);
    // Its definition changed since the call was queued (tool pinning): the call waits for an approval, as for a link.
    const unapproved = aggregator.unapprovedCall(upstream, call.tool);
    if (unapproved) throw new ProviderUnavailableError(upstream, withheldError(call.tool, unapproved).message);
    try {
      return await provider.callTool(call.tool, call.arguments, { signal, meta: { [IDEMPOTENCY_META_KEY]: call.idempotencyKey } });
    } catch (err) {
      if (err instanceof ProviderUnavailableError || !isMcpError(err) || isLinkFailure(err.code)) throw err;
      throw new DestinationError(`${upstream} refused the call: ${err.message}`);
    }
  };
}

/**
 * A call to a mesh destination goes to the peers that share its tool now,
 * through the aggregator, so the core's router picks among several (and
 * fails over for idempotent tools). No peer sharing it, or every one failing
 * to answer, is a link failure: the call waits for a peer to come back.
 */
async function deliverOverMesh(aggregator: Aggregator, destination: string, call: DeliveryCall, signal: AbortSignal): Promise<CallToolResult> {
  if (!aggregator.servedByPeer(call.tool)) throw new ProviderUnavailableError(destination, `no mesh peer shares "${call.tool}" now`);
  try {
    return await aggregator.callTool(call.tool, call.arguments, { signal, meta: { [IDEMPOTENCY_META_KEY]: call.idempotencyKey } });
  } catch (err) {
    if (isMcpError(err) && err.code === PROVIDER_UNAVAILABLE) throw new ProviderUnavailableError(destination, err.message);
    if (!isMcpError(err) || isLinkFailure(err.code)) throw err;
    throw new DestinationError(`the mesh peer refused the call: ${err.message}`);
  }
}

/** Sends the queue into action when an upstream destination comes back up, and a mesh destination whenever the mesh's tools change (a peer came back). */
export function wakeOnRecovery(plan: DestinationPlan, aggregator: Aggregator, wake: (destination: string) => void): void {
  if (plan.mesh.size > 0) {
    aggregator.onListChanged((part) => {
      if (part === 'tools') for (const destination of plan.mesh) wake(destination);
    });
  }
  for (const [upstream, destination] of plan.destinationOf) {
    const provider = providerById(aggregator, upstream);
    provider?.onChange((part) => {
      if (part === 'health' && provider.health().state === 'up') wake(destination);
    });
  }
}
