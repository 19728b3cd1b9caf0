// The aggregator: every provider's tools, resources, templates and prompts in
// one deterministic view, namespaced and filtered; calls routed to a provider
// (through the core's router for tools); list changes announced to listeners.
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { CallToolResult, CompleteRequest, CompleteResult, GetPromptResult, LoggingLevel, Prompt, ReadResourceResult, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { AggregatorSettings } from '../../config/resolve.js';
import type { CoreRouter } from '../../core/router.js';
import { INTERNAL_ERROR, INVALID_PARAMS, isLinkFailure, RESOURCE_NOT_FOUND } from '../../protocol/jsonrpc.js';
import type { CatalogPart, Provider, ProviderCallContext } from '../../providers/provider.js';
import type { Logger } from '../../telemetry/log.js';
import { withheldError, type ToolPins, type Unapproved } from '../../security/pinning/pins.js';
import { mergeNames, sortBy, type Offered } from './naming.js';
import { ToolCaller, type ToolRoute } from './routing.js';
import { FanOutRoutes, peerOffersByName, routeOver } from './tool-routes.js';
import { PROVIDERS_RESOURCE, providersReport } from './health.js';
import { Arrivals } from './connecting.js';
import { McpError, isMcpError } from '../../protocol/mcp-error.js';

export type ListPart = 'tools' | 'resources' | 'prompts';

/** What the mesh asks of routing: tools whose peers' replicas rank before this gateway's own, and the tools fan-out tools run everywhere. */
export interface MeshOffload {
  /** By public name: the peers' replicas of the same name join the route, preferred (the core's router puts them first). */
  preferRemote: (name: string) => boolean;
  /** Fan-out tool name -> the public name of the tool it runs on every provider. */
  fanOut: ReadonlyMap<string, string>;
}

interface Slot {
  provider: Provider;
  /** Router handle; also the provider's index in configured order. */
  handle: number;
  namespace: string;
}

interface PromptRoute {
  replicas: { slot: Slot; name: string }[];
}

export interface AggregatorOptions {
  router: CoreRouter;
  settings: AggregatorSettings;
  log: Logger;
  /** Tool pinning: screens each provider's tools before they are listed or routed (none: every tool as offered). */
  pins?: ToolPins;
}

export class Aggregator {
  readonly slots: Slot[] = [];
  private tools: Tool[] = [];
  private toolRoutes = new Map<string, ToolRoute>();
  private prompts: Prompt[] = [];
  private promptRoutes = new Map<string, PromptRoute>();
  /** Public tool/prompt name -> "<namespace><separator><name>" of each replica (bare for local providers): what authorization rules match. */
  private qualifiedTools = new Map<string, readonly string[]>();
  private qualifiedPrompts = new Map<string, readonly string[]>();
  private resources: Resource[] = [];
  private resourceRoutes = new Map<string, Slot[]>();
  private templates: ResourceTemplate[] = [];
  private templateRoutes: { template: UriTemplate; slot: Slot }[] = [];
  /**
   * Client sessions subscribed, per resource URI. Providers are asked once
   * per URI and told when no session wants it any more: a session that
   * unsubscribed or ended used to leave the upstream subscribed for good.
   */
  private readonly subscribers = new Map<string, number>();
  private readonly listeners = new Set<(part: ListPart) => void>();
  private readonly pending = new Set<ListPart>();
  /** Calls waiting for a connecting provider (see connecting.ts); woken on every health change and tool rebuild. */
  private readonly arrivals = new Arrivals();
  /** Every provider's first start attempt, from start(). */
  private started: Promise<void> = Promise.resolve();
  private readonly caller: ToolCaller;
  /** Which tools the offline queue can hold (public name, listing, provider); none until it says. */
  private deferrable: (name: string, tool: Tool, provider: Provider) => boolean = () => false;
  /** Mesh offload (mesh.prefer_remote, mesh.fan_out): none until the mesh says. */
  private offload: MeshOffload = { preferRemote: () => false, fanOut: new Map() };
  /** Fan-out targets: every replica of the tool, this gateway's own and every peer's, as one router entry. */
  private readonly fanOutRoutes: FanOutRoutes;

  constructor(private readonly options: AggregatorOptions) {
    this.caller = new ToolCaller(options.router, options.settings.maxAttempts, options.log);
    this.fanOutRoutes = new FanOutRoutes(options.router, this.routeOf);
    options.pins?.onChange(() => this.schedule('tools'));
    this.rebuildResources();
  }

  /** Adds a provider; order of adding is the order of replicas and of conflicts. */
  add(provider: Provider): void {
    if (this.slots.some((s) => s.provider.id === provider.id)) throw new Error(`provider id "${provider.id}" is used twice`);
    const handle = this.options.router.addProvider(provider.routingWeights?.() ?? { localityMs: 0, cost: 0, energy: 0 });
    const slot: Slot = { provider, handle, namespace: provider.prefix ?? provider.id };
    this.slots.push(slot);
    provider.onChange((part) => this.changed(slot, part));
    this.options.router.setAvailable(handle, provider.health().state === 'up');
    for (const part of ['tools', 'resources', 'prompts'] as const) this.schedule(part);
  }

  /**
   * Starts every provider in the background: the gateway serves meanwhile,
   * and each provider's tools are listed (list_changed) as it comes up. One
   * that fails to start keeps retrying on its own.
   */
  start(): void {
    this.started = Promise.allSettled(this.slots.map((s) => s.provider.start())).then(() => undefined);
  }

  /** Resolves when every provider's first start attempt ended, up or failed. */
  ready(): Promise<void> {
    return this.started;
  }

  /** Tool calls waiting for a provider still on its first connection attempt. */
  waitingCalls(): number {
    return this.arrivals.waiting;
  }

  /** Providers still on their first connection attempt. */
  connecting(): Provider[] {
    return this.slots.filter((s) => s.provider.health().state === 'starting').map((s) => s.provider);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.slots.map((s) => s.provider.close()));
  }

  /** A client session ended: providers let go of what they kept for it. */
  sessionClosed(sessionId: string): void {
    for (const slot of this.slots) slot.provider.sessionClosed?.(sessionId);
  }

  /** Tells which tools the offline queue can hold; they are listed with task support from now on. */
  setDeferrable(deferrable: (name: string, tool: Tool, provider: Provider) => boolean): void {
    this.deferrable = deferrable;
    this.schedule('tools');
  }

  /** Sets which tools prefer remote replicas and which tools fan-out tools run (the mesh's settings); takes effect at once. */
  setOffload(offload: MeshOffload): void {
    this.offload = offload;
    this.schedule('tools');
  }

  /** Calls `listener` when a merged list changed (coalesced per tick). */
  onListChanged(listener: (part: ListPart) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(slot: Slot, part: CatalogPart | 'health'): void {
    if (part === 'health') {
      this.options.router.setAvailable(slot.handle, slot.provider.health().state === 'up');
      this.schedule('resources');
      // After the microtasks that merge the lists its coming up announced, so a waiting call finds its tool.
      setImmediate(() => this.arrivals.wake());
      return;
    }
    this.schedule(part === 'resourceTemplates' ? 'resources' : part);
  }

  private schedule(part: ListPart): void {
    if (this.pending.has(part)) return;
    this.pending.add(part);
    queueMicrotask(() => {
      this.pending.delete(part);
      if (part === 'tools') {
        this.rebuildTools();
        this.arrivals.wake();
      } else if (part === 'prompts') this.rebuildPrompts();
      else this.rebuildResources();
      for (const listener of this.listeners) listener(part);
    });
  }

  private offered<T extends { name: string }>(pick: (s: Slot) => T[]): Offered<T>[] {
    return this.slots.flatMap((slot) =>
      pick(slot).map((item) => ({ provider: slot.handle, namespace: slot.namespace, name: item.name, item })),
    );
  }

  private conflict = (kind: string) => (name: string, dropped: Offered<unknown>) =>
    this.options.log.warn(`${kind} "${name}" from provider ${this.slots[dropped.provider]?.provider.id} hides behind another of the same public name`);

  /** A provider's tools that may be listed and routed: all of them, or those tool pinning lets through. */
  private screenedTools(slot: Slot): Tool[] {
    const tools = slot.provider.catalog().tools;
    return this.options.pins ? this.options.pins.screen(slot.provider.id, tools) : tools;
  }

  private rebuildTools(): void {
    const offered = this.offered((s) => this.screenedTools(s));
    const merged = mergeNames(this.ownFirst(offered), this.options.settings.naming, this.conflict('tool'));
    const peerOffers = peerOffersByName(offered, (o) => this.isPeer(o));
    const router = this.options.router;
    const next = new Map<string, ToolRoute>();
    for (const entry of merged) {
      // A tool that prefers remote replicas: the peers' of the same name join this gateway's own, ahead of it.
      const preferRemote = this.offload.preferRemote(entry.name) && entry.replicas.some((r) => !this.isPeer(r));
      const remote = preferRemote ? (peerOffers.get(entry.name) ?? []) : [];
      const route = this.routeOf(entry.name, [...entry.replicas, ...remote], this.toolRoutes.get(entry.name));
      if (preferRemote) router.setPreferred(route.handle, remote.map((r) => r.provider));
      next.set(entry.name, route);
      if (remote.length > 0) entry.replicas.push(...remote);
    }
    for (const [name, route] of this.toolRoutes) if (!next.has(name)) router.removeTool(route.handle);
    this.toolRoutes = next;
    const wide = this.fanOutRoutes.rebuild(this.offload.fanOut.values(), merged, peerOffers);
    this.qualifiedTools = this.qualifiedNames(merged);
    // A fan-out tool is a call to its target on every provider: authorization judges it by their names too.
    for (const [fanOut, target] of this.offload.fanOut) {
      const own = this.qualifiedTools.get(fanOut);
      const offers = wide.get(target);
      if (own && offers) this.qualifiedTools.set(fanOut, [...own, ...(this.qualifiedNames([{ name: target, replicas: offers }]).get(target) ?? [])]);
    }
    this.tools = merged.map((m) => {
      const first = m.replicas[0]!;
      const tool = m.name === first.item.name ? first.item : { ...first.item, name: m.name };
      // A fan-out tool takes its target's arguments: listed with the target's input schema once a provider offers it.
      const targetSchema = wide.get(this.offload.fanOut.get(m.name) ?? '')?.[0]?.item.inputSchema;
      if (targetSchema) return { ...tool, inputSchema: targetSchema };
      return this.deferrable(m.name, first.item, this.slots[first.provider]!.provider) ? withTaskSupport(tool) : tool;
    });
  }

  private routeOf = (name: string, offers: readonly Offered<Tool>[], old: ToolRoute | undefined): ToolRoute => routeOver(this.options.router, (h) => this.slots[h]!.provider, name, offers, old);

  private isPeer(o: Offered<unknown>): boolean {
    return this.slots[o.provider]!.provider.kind === 'peer';
  }

  /**
   * A fan-out tool's call: `name` started on every provider that serves it
   * now (this gateway's own and every peer's), each once, best first as the
   * core's router ranks them. Undefined when none serves it.
   */
  callEverywhere(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext): { provider: string; result: Promise<CallToolResult> }[] | undefined {
    const route = this.fanOutRoutes.get(name);
    return route ? this.caller.callEach(route, args, context) : undefined;
  }

  /**
   * A mesh peer's tool never renames this gateway's own: a name this gateway
   * serves itself hides the peers' tools of that name (the mesh fills in what
   * this gateway lacks), so joining a mesh leaves the local list as it was.
   */
  private ownFirst<T>(offered: Offered<T>[]): Offered<T>[] {
    const own = new Set(offered.filter((o) => !this.isPeer(o)).map((o) => o.name));
    return offered.filter((o) => !this.isPeer(o) || !own.has(o.name));
  }

  private qualifiedNames(merged: readonly { name: string; replicas: readonly Offered<unknown>[] }[]): Map<string, readonly string[]> {
    const separator = this.options.settings.naming.separator;
    return new Map(merged.map((m) => [m.name, [...new Set(m.replicas.map((r) => (r.namespace === '' ? r.name : `${r.namespace}${separator}${r.name}`)))]]));
  }

  /** The qualified names behind a listed tool (security/policy.ts); undefined when no tool is listed as `name`. */
  qualifiedToolNames(name: string): readonly string[] | undefined {
    return this.qualifiedTools.get(name);
  }

  qualifiedPromptNames(name: string): readonly string[] | undefined {
    return this.qualifiedPrompts.get(name);
  }

  /** The provider (first replica) behind a public tool name, the name it knows the tool by, and its listing. */
  toolTarget(name: string): { provider: Provider; name: string; tool: Tool } | undefined {
    const replica = this.toolRoutes.get(name)?.replicas.values().next().value;
    if (!replica) return undefined;
    const tool = replica.provider.catalog().tools.find((t) => t.name === replica.name);
    return tool ? { provider: replica.provider, name: replica.name, tool } : undefined;
  }

  private rebuildPrompts(): void {
    const merged = mergeNames(this.offered((s) => s.provider.catalog().prompts), this.options.settings.naming, this.conflict('prompt'));
    this.promptRoutes = new Map(
      merged.map((m) => [m.name, { replicas: m.replicas.map((r) => ({ slot: this.slots[r.provider]!, name: r.name })) }]),
    );
    this.qualifiedPrompts = this.qualifiedNames(merged);
    this.prompts = merged.map((m) => (m.name === m.replicas[0]!.item.name ? m.replicas[0]!.item : { ...m.replicas[0]!.item, name: m.name }));
  }

  /** Resources keep their URIs (they are already global); the same URI from several providers is served by the first up. */
  private rebuildResources(): void {
    const routes = new Map<string, Slot[]>();
    const listed = new Map<string, Resource>();
    const templates: { template: UriTemplate; slot: Slot }[] = [];
    const templateList: ResourceTemplate[] = [];
    for (const slot of this.slots) {
      const catalog = slot.provider.catalog();
      for (const r of catalog.resources) {
        routes.set(r.uri, [...(routes.get(r.uri) ?? []), slot]);
        if (!listed.has(r.uri)) listed.set(r.uri, r);
      }
      for (const t of catalog.resourceTemplates) {
        try {
          templates.push({ template: new UriTemplate(t.uriTemplate), slot });
          templateList.push(t);
        } catch {
          this.options.log.warn(`provider ${slot.provider.id}: resource template "${t.uriTemplate}" does not parse; left out`);
        }
      }
    }
    listed.set(PROVIDERS_RESOURCE.uri, PROVIDERS_RESOURCE);
    this.resourceRoutes = routes;
    this.resources = sortBy([...listed.values()], (r) => r.uri);
    this.templateRoutes = templates;
    this.templates = sortBy(templateList, (t) => t.uriTemplate);
  }

  listTools(): Tool[] {
    return this.tools;
  }

  listPrompts(): Prompt[] {
    return this.prompts;
  }

  listResources(): Resource[] {
    return this.resources;
  }

  listResourceTemplates(): ResourceTemplate[] {
    return this.templates;
  }

  /**
   * The refusal for a call to `name` when no listed tool has that name and a
   * withheld one (tool pinning) would answer to it, bare or prefixed.
   */
  withheldRefusal(name: string): McpError | undefined {
    const pins = this.options.pins;
    if (!pins || this.toolRoutes.has(name)) return undefined;
    const separator = this.options.settings.naming.separator;
    for (const slot of this.slots) {
      const match = pins.withheld(slot.provider.id).find((u) => name === u.tool || (slot.namespace !== '' && name === `${slot.namespace}${separator}${u.tool}`));
      if (match) return withheldError(name, match);
    }
    return undefined;
  }

  /**
   * Why a call to `tool` of `providerId` that bypasses the listing (an
   * offline queue delivery) must wait: its definition as offered now is not
   * approved. Undefined when it may go.
   */
  unapprovedCall(providerId: string, tool: string): Unapproved | undefined {
    const provider = this.slots.find((s) => s.provider.id === providerId)?.provider;
    const verdict = provider && this.options.pins?.check(providerId, provider.catalog().tools.find((t) => t.name === tool));
    return verdict && !verdict.listed ? verdict : undefined;
  }

  /** Whether a mesh peer serves the listed tool `name` now (a mesh destination of the offline queue delivers only then). */
  servedByPeer(name: string): boolean {
    const route = this.toolRoutes.get(name);
    return route !== undefined && [...route.replicas.values()].some((r) => r.provider.kind === 'peer');
  }

  /** Each listed tool and the providers its calls may go to (GET /v1/tools, the dashboard). */
  toolRouting(): { tool: string; providers: string[] }[] {
    return [...this.toolRoutes.values()].map((route) => ({ tool: route.name, providers: [...route.replicas.values()].map((r) => r.provider.id) }));
  }

  callTool(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext): Promise<CallToolResult> {
    const route = this.toolRoutes.get(name);
    // The caller's own promise, not one wrapped around it: an async function returning it costs the call two more turns.
    return route ? this.caller.call(route, args, context) : this.callUnlisted(name, args, context);
  }

  /** A tool not in the table now: it may arrive with a connecting provider, be withheld, or be known to a local provider only. */
  private async callUnlisted(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext): Promise<CallToolResult> {
    const route = await this.arrivals.routeOf(name, context.signal, () => this.toolRoutes.get(name), () => this.connecting());
    if (route) return this.caller.call(route, args, context);
    const withheld = this.withheldRefusal(name);
    if (withheld) return Promise.reject(withheld);
    // Not listed: an unprefixed local provider may know why (a tool switched off says so).
    const local = this.slots.find((s) => s.namespace === '' && s.provider.kind === 'local');
    if (local) return local.provider.callTool(name, args, context);
    throw new McpError(INVALID_PARAMS, `Tool "${name}" is not offered by this gateway. Call tools/list to see the tools that are.`);
  }

  /** The providers that may serve `uri`, in order: exact listings first, then matching templates. */
  private resourceSlots(uri: string): Slot[] {
    const exact = this.resourceRoutes.get(uri) ?? [];
    const templated = this.templateRoutes.filter((t) => t.template.match(uri) !== null).map((t) => t.slot);
    return [...new Set([...exact, ...templated])];
  }

  /** How metrics name a read of `uri`: the URI when a provider lists it, else the template that matches it; undefined when none serves it. */
  resourceSeries(uri: string): string | undefined {
    if (this.resourceRoutes.has(uri) || uri === PROVIDERS_RESOURCE.uri) return uri;
    return this.templateRoutes.find((t) => t.template.match(uri) !== null)?.template.toString();
  }

  /** Whether this gateway serves resource `uri` itself (a plugin or an upstream, not only a mesh peer): only then may the mesh share it. */
  ownsResource(uri: string): boolean {
    return this.resourceSlots(uri).some((s) => s.provider.kind !== 'peer');
  }

  /** Whether the listed prompt `name` is served by this gateway itself, not by a mesh peer. */
  ownsPrompt(name: string): boolean {
    const first = this.promptRoutes.get(name)?.replicas[0];
    return first !== undefined && first.slot.provider.kind !== 'peer';
  }

  async readResource(uri: string, context: ProviderCallContext): Promise<ReadResourceResult> {
    if (uri === PROVIDERS_RESOURCE.uri) return providersReport(this.slots, this.options.router, (id) => this.options.pins?.summary(id));
    // Read for a mesh peer: this gateway's own providers only.
    const slots = this.resourceSlots(uri).filter((s) => !context.ownOnly || s.provider.kind !== 'peer');
    if (slots.length === 0) throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: no provider offers "${uri}". Call resources/list and resources/templates/list.`);
    return firstAnswer(slots, (slot) => slot.provider.readResource(uri, context), `resource "${uri}"`);
  }

  async getPrompt(name: string, args: Record<string, string> | undefined, context: ProviderCallContext): Promise<GetPromptResult> {
    const route = this.promptRoutes.get(name);
    if (!route) throw new McpError(INVALID_PARAMS, `Prompt "${name}" is not offered by this gateway. Call prompts/list to see the prompts that are.`);
    const replicas = route.replicas.filter((r) => !context.ownOnly || r.slot.provider.kind !== 'peer');
    return firstAnswer(replicas, (r) => r.slot.provider.getPrompt(r.name, args, context), `prompt "${name}"`);
  }

  async complete(params: CompleteRequest['params'], context: ProviderCallContext): Promise<CompleteResult> {
    const empty: CompleteResult = { completion: { values: [], hasMore: false } };
    const ref = params.ref;
    if (ref.type === 'ref/prompt') {
      const target = this.promptRoutes.get(ref.name)?.replicas[0];
      if (!target?.slot.provider.complete) return empty;
      return target.slot.provider.complete({ ...params, ref: { ...ref, name: target.name } }, context);
    }
    const slot = this.resourceSlots(ref.uri).find((s) => s.provider.complete);
    return slot?.provider.complete ? slot.provider.complete(params, context) : empty;
  }

  /** One more client session subscribed to `uri`: the first asks the providers that may serve it. */
  async subscribe(uri: string): Promise<void> {
    const slots = this.resourceSlots(uri);
    if (slots.length === 0 && uri !== PROVIDERS_RESOURCE.uri) throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: no provider offers "${uri}".`);
    const count = this.subscribers.get(uri) ?? 0;
    this.subscribers.set(uri, count + 1);
    if (count === 0) await Promise.allSettled(slots.map((s) => s.provider.subscribe?.(uri)));
  }

  /** One client session fewer subscribed to `uri` (it unsubscribed, or ended): the last one's going tells the providers. */
  async unsubscribe(uri: string): Promise<void> {
    const count = this.subscribers.get(uri);
    if (count === undefined) return;
    if (count > 1) return void this.subscribers.set(uri, count - 1);
    this.subscribers.delete(uri);
    await Promise.allSettled(this.resourceSlots(uri).map((s) => s.provider.unsubscribe?.(uri)));
  }

  async setLoggingLevel(level: LoggingLevel): Promise<void> {
    await Promise.allSettled(this.slots.map((s) => s.provider.setLoggingLevel?.(level)));
  }
}

/**
 * A tool the offline queue can hold is listed with task support (whatever the
 * upstream says of its own tasks: the gateway keeps the task, the upstream
 * gets a plain call), so a standard client knows it may call it as a task.
 */
function withTaskSupport(tool: Tool): Tool {
  if (tool.execution?.taskSupport === 'required' || tool.execution?.taskSupport === 'optional') return tool;
  return { ...tool, execution: { ...tool.execution, taskSupport: 'optional' } };
}

/** Tries each in order until one answers; an answer that is an error is final. */
async function firstAnswer<S, T>(items: S[], fn: (item: S) => Promise<T>, what: string): Promise<T> {
  let last: unknown;
  for (const item of items) {
    try {
      return await fn(item);
    } catch (err) {
      if (isMcpError(err) && !isLinkFailure(err.code)) throw err;
      last = err;
    }
  }
  throw new McpError(INTERNAL_ERROR, `No provider could serve ${what}: ${(last as Error)?.message ?? String(last)}`);
}
