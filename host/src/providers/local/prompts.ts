// In-process MCP prompts: a name, declared string arguments and a handler that
// renders messages. Required arguments are checked before the handler runs.
import type { GetPromptResult, Prompt, PromptArgument } from '@modelcontextprotocol/sdk/types.js';
import { Switchboard } from '../../tools/switchboard.js';
import type { ToolContext } from '../../tools/registry.js';

export interface PromptDefinition {
  name: string;
  title?: string;
  description?: string;
  arguments?: PromptArgument[];
  get: (args: Record<string, string>, context: ToolContext) => Promise<GetPromptResult> | GetPromptResult;
}

/** The prompt is unknown or disabled, or its arguments are wrong (a protocol error: invalid params). */
export class PromptError extends Error {
  override readonly name = 'PromptError';
}

function listingOf(d: PromptDefinition): Prompt {
  const { get: _get, ...listing } = d;
  return listing;
}

export class PromptRegistry {
  readonly prompts = new Switchboard<PromptDefinition>('prompt');

  register(definition: PromptDefinition, options: { group?: string; enabled?: boolean } = {}): void {
    const names = (definition.arguments ?? []).map((a) => a.name);
    if (new Set(names).size !== names.length) throw new Error(`prompt "${definition.name}": argument names must be unique`);
    this.prompts.add(definition.name, definition, options);
  }

  list(): Prompt[] {
    return this.prompts.live().map(listingOf);
  }

  async get(name: string, args: Record<string, string> | undefined, context: ToolContext): Promise<GetPromptResult> {
    const found = this.prompts.lookup(name);
    if (!found) throw new PromptError(`Prompt "${name}" is not offered by this gateway. Call prompts/list to see the prompts that are.`);
    if (!found.live) throw new PromptError(`Prompt "${name}" is disabled on this gateway.`);
    const declared = found.value.arguments ?? [];
    const given = args ?? {};
    const missing = declared.filter((a) => a.required && given[a.name] === undefined).map((a) => a.name);
    if (missing.length) throw new PromptError(`Prompt "${name}" needs the argument${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`);
    const unknown = Object.keys(given).filter((k) => !declared.some((a) => a.name === k));
    if (unknown.length) {
      const known = declared.map((a) => a.name).join(', ') || 'none';
      throw new PromptError(`Prompt "${name}" has no argument ${unknown.join(', ')}; its arguments are: ${known}.`);
    }
    return found.value.get(given, context);
  }
}
