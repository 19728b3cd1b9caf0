// The local provider: tools, resources and prompts that run inside the gateway's
// process. Embedders register them one by one or as plugins (named bundles),
// and switch any of them, or a whole plugin, on and off at run time; each switch
// that changes what clients see fires onChange, which the gateway turns into
// list_changed notifications.
import type { CallToolResult, GetPromptResult, ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { toMcpError } from '../../protocol/errors.js';
import type { CatalogPart, Provider, ProviderCallContext, ProviderCatalog, ProviderHealth } from '../provider.js';
import { ToolRegistry, UnknownToolError, type ToolContext, type ToolDefinition } from '../../tools/registry.js';
import type { ObjectSchema } from '../../tools/schema.js';
import type { Switches, SwitchState } from '../../tools/switchboard.js';
import { PromptError, PromptRegistry, type PromptDefinition } from './prompts.js';
import { ResourceNotFoundError, ResourceRegistry, type ResourceDefinition, type ResourceTemplateDefinition } from './resources.js';

/** A named bundle of tools, resources and prompts that is switched as one. */
export interface Plugin {
  /** Unique among plugins; what enable/disable take. */
  name: string;
  description?: string;
  /** `any`: each tool has its own argument type, which defineTool checked where it was written. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tools?: ToolDefinition<any>[];
  resources?: ResourceDefinition[];
  resourceTemplates?: ResourceTemplateDefinition[];
  prompts?: PromptDefinition[];
  /** Releases what the plugin holds (database handles, child processes); called on remove and on close. */
  close?(): Promise<void> | void;
}

/** Identity helper that keeps a plugin literal typed. */
export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}

/** enable/disable was given a name that matches nothing. */
export class UnknownCapabilityError extends Error {
  override readonly name = 'UnknownCapabilityError';
}

export interface LocalStatus {
  plugins: { name: string; enabled: boolean; description?: string }[];
  tools: SwitchState[];
  resources: SwitchState[];
  resourceTemplates: SwitchState[];
  prompts: SwitchState[];
}

type Options = { group?: string; enabled?: boolean };

/** Progress goes back on the client's request, under its token; without a token there is no one to tell. */
function progressReporter(context: ProviderCallContext): NonNullable<ToolContext['progress']> {
  const { client, progressToken } = context;
  if (!client || progressToken === undefined) return async () => undefined;
  return (progress, total, message) =>
    client.sendNotification({
      method: 'notifications/progress',
      params: { progressToken, progress, ...(total === undefined ? {} : { total }), ...(message === undefined ? {} : { message }) },
    });
}

/**
 * At the Provider seam a name the registries do not offer (a tool, prompt or
 * resource, unknown or switched off) becomes a protocol error, as every
 * provider's answers are: the provider answered, it did not fail. Any other
 * error passes as it is (a failure of the provider, for the router to count).
 */
async function asProtocol<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof UnknownToolError || err instanceof PromptError || err instanceof ResourceNotFoundError) throw toMcpError(err);
    throw err;
  }
}

export class LocalProvider implements Provider {
  readonly id = 'local';
  readonly kind = 'local' as const;
  /** The gateway's own names: never namespaced by an aggregator. */
  readonly prefix = '';
  readonly tools = new ToolRegistry();
  readonly resources = new ResourceRegistry();
  readonly prompts = new PromptRegistry();
  private readonly plugins = new Map<string, { plugin: Plugin; enabled: boolean }>();
  private readonly listeners = new Set<(part: CatalogPart | 'health') => void>();
  private readonly switchListeners = new Set<(name: string, enabled: boolean) => void>();
  private readonly since = Date.now();

  constructor() {
    this.tools.onChange(() => this.emit('tools'));
    this.resources.fixed.onChange(() => this.emit('resources'));
    this.resources.templates.onChange(() => this.emit('resourceTemplates'));
    this.prompts.prompts.onChange(() => this.emit('prompts'));
  }

  registerTool<S extends ObjectSchema>(definition: ToolDefinition<S>, options: Options = {}): void {
    this.tools.register(definition, options);
  }

  registerResource(definition: ResourceDefinition, options: Options = {}): void {
    this.resources.register(definition, options);
  }

  registerResourceTemplate(definition: ResourceTemplateDefinition, options: Options = {}): void {
    this.resources.registerTemplate(definition, options);
  }

  registerPrompt(definition: PromptDefinition, options: Options = {}): void {
    this.prompts.register(definition, options);
  }

  /** Adds a plugin (enabled unless `enabled: false`); all or nothing if an item is invalid. */
  use(plugin: Plugin, options: { enabled?: boolean } = {}): void {
    if (this.plugins.has(plugin.name)) throw new Error(`plugin "${plugin.name}" is already in use`);
    const enabled = options.enabled ?? true;
    this.plugins.set(plugin.name, { plugin, enabled });
    try {
      // Switch the group off before its first item arrives, so a disabled plugin fires no change.
      if (!enabled) for (const board of this.boards()) board.setGroupEnabled(plugin.name, false);
      const group = { group: plugin.name };
      for (const t of plugin.tools ?? []) this.tools.register(t, group);
      for (const r of plugin.resources ?? []) this.resources.register(r, group);
      for (const t of plugin.resourceTemplates ?? []) this.resources.registerTemplate(t, group);
      for (const p of plugin.prompts ?? []) this.prompts.register(p, group);
    } catch (err) {
      for (const board of this.boards()) board.removeGroup(plugin.name);
      this.plugins.delete(plugin.name);
      throw err;
    }
  }

  /** Removes a plugin and everything it registered, then lets it release its resources. */
  async remove(pluginName: string): Promise<boolean> {
    const entry = this.plugins.get(pluginName);
    if (!entry) return false;
    for (const board of this.boards()) board.removeGroup(pluginName);
    this.plugins.delete(pluginName);
    await entry.plugin.close?.();
    return true;
  }

  /** Switches on a plugin, tool, prompt, resource (URI or name) or template: everything of that name. */
  enable(name: string): void {
    this.toggle(name, true);
  }

  /** Switches off a plugin, tool, prompt, resource (URI or name) or template: everything of that name. */
  disable(name: string): void {
    this.toggle(name, false);
  }

  /** Tells `listener` of every enable() and disable() that switched something (the audit log records them). */
  onSwitch(listener: (name: string, enabled: boolean) => void): void {
    this.switchListeners.add(listener);
  }

  status(): LocalStatus {
    const plugins = [...this.plugins.values()].map(({ plugin, enabled }) => ({
      name: plugin.name,
      enabled,
      ...(plugin.description ? { description: plugin.description } : {}),
    }));
    return {
      plugins: plugins.sort((a, b) => (a.name < b.name ? -1 : 1)),
      tools: this.tools.states(),
      resources: this.resources.fixed.states(),
      resourceTemplates: this.resources.templates.states(),
      prompts: this.prompts.prompts.states(),
    };
  }

  private toggle(name: string, enabled: boolean): void {
    let matched = false;
    const plugin = this.plugins.get(name);
    if (plugin) {
      plugin.enabled = enabled;
      for (const board of this.boards()) board.setGroupEnabled(name, enabled);
      matched = true;
    }
    for (const board of [this.tools.switches, this.resources.templates, this.prompts.prompts]) {
      matched = board.setEnabled(name, enabled) || matched;
    }
    for (const resource of this.resources.fixed.states()) {
      const definition = this.resources.fixed.lookup(resource.key)!.value;
      if (resource.key === name || definition.name === name) matched = this.resources.fixed.setEnabled(resource.key, enabled) || matched;
    }
    if (matched) for (const listener of this.switchListeners) listener(name, enabled);
    if (!matched) {
      throw new UnknownCapabilityError(
        `Nothing named "${name}" to ${enabled ? 'enable' : 'disable'}: it is not a plugin, tool, prompt, resource or resource template here. See status() for the names.`,
      );
    }
  }

  private boards(): Switches[] {
    return [this.tools.switches, this.resources.fixed, this.resources.templates, this.prompts.prompts];
  }

  private emit(part: CatalogPart): void {
    for (const listener of this.listeners) listener(part);
  }

  // --- Provider ---

  health(): ProviderHealth {
    return { state: 'up', since: this.since };
  }

  catalog(): ProviderCatalog {
    return {
      tools: this.tools.list(),
      resources: this.resources.list(),
      resourceTemplates: this.resources.listTemplates(),
      prompts: this.prompts.list(),
    };
  }

  callTool(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext): Promise<CallToolResult> {
    return asProtocol(() => this.tools.call(name, args, { signal: context.signal, progress: progressReporter(context) }));
  }

  readResource(uri: string, context: ProviderCallContext): Promise<ReadResourceResult> {
    return asProtocol(() => this.resources.read(uri, { signal: context.signal }));
  }

  getPrompt(name: string, args: Record<string, string> | undefined, context: ProviderCallContext): Promise<GetPromptResult> {
    return asProtocol(() => this.prompts.get(name, args, { signal: context.signal }));
  }

  onChange(listener: (part: CatalogPart | 'health') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {}

  /** Lets every plugin release what it holds; the registrations stay. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.plugins.values()].map(async ({ plugin }) => plugin.close?.()));
  }
}
