// The shared context as MCP resources and tools of this gateway:
// - mcp-edge://context: the spaces, their sizes and the sync's counts;
// - mcp-edge://context/{space}: a space's key/values and documents (JSON);
// - mcp-edge://context/{space}/{key}: one key's value (JSON);
// - mcp-edge://context/{space}/documents/{name}: one document (text);
// - context_set, context_delete, context_append: the writes, replicated to the mesh.
// Each resource can be subscribed to: a change, here or on a peer, notifies.
import type { CallToolResult, ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ResourceNotFoundError, type ResourceDefinition, type ResourceTemplateDefinition } from '../../providers/local/resources.js';
import { defineTool, type ToolDefinition } from '../../tools/registry.js';
import { ContextError } from '../errors.js';
import type { SharedContext } from './context.js';
import { CONTEXT_NAME } from './space.js';

const json = (uri: string, value: unknown): ReadResourceResult => ({ contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }] });

/** A tool's answer: what it did, or the ContextError's code and message as a tool error. */
function answer(run: () => Record<string, unknown>): CallToolResult {
  try {
    const result = run();
    return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
  } catch (err) {
    if (!(err instanceof ContextError)) throw err;
    return { isError: true, content: [{ type: 'text', text: `${err.code}: ${err.message}` }] };
  }
}

/** A resource read of a space this node does not share is "resource not found", as any unknown URI. */
function spaceOf(context: SharedContext, uri: URL, name: string) {
  const space = context.spaces.get(name);
  if (!space) throw new ResourceNotFoundError(uri.href, `no context space "${name}" on this gateway (mesh.context).`);
  return space;
}

export function contextResources(context: SharedContext): { resources: ResourceDefinition[]; templates: ResourceTemplateDefinition[] } {
  const overview: ResourceDefinition = {
    uri: 'mcp-edge://context',
    name: 'context',
    title: 'Shared context spaces',
    description: 'The context spaces this gateway shares with its mesh peers, their sizes, and the counts of updates applied and refused.',
    mimeType: 'application/json',
    read: (uri) => json(uri.href, { spaces: [...context.spaces.values()].map((s) => ({ space: s.name, ...s.size() })), sync: context.sync.stats }),
  };
  const space: ResourceTemplateDefinition = {
    uriTemplate: 'mcp-edge://context/{space}',
    name: 'context-space',
    title: 'A shared context space',
    description: "A context space's key/values and text documents (JSON), as replicated across the mesh. Subscribe to hear of every change.",
    mimeType: 'application/json',
    read: (uri, variables) => {
      const name = String(variables.space);
      return json(uri.href, { space: name, ...spaceOf(context, uri, name).snapshot() });
    },
  };
  const key: ResourceTemplateDefinition = {
    uriTemplate: 'mcp-edge://context/{space}/{key}',
    name: 'context-key',
    title: 'One key of a shared context space',
    description: "One key's value (JSON) in a context space. Subscribe to hear when it changes, here or on a peer.",
    mimeType: 'application/json',
    read: (uri, variables) => {
      const value = spaceOf(context, uri, String(variables.space)).value(String(variables.key));
      if (value === undefined) throw new ResourceNotFoundError(uri.href, `the key "${String(variables.key)}" has no value in this space (yet).`);
      return json(uri.href, value);
    },
  };
  const document: ResourceTemplateDefinition = {
    uriTemplate: 'mcp-edge://context/{space}/documents/{name}',
    name: 'context-document',
    title: 'One document of a shared context space',
    description: 'One text document of a context space (context_append writes it; concurrent appends on several nodes all land).',
    mimeType: 'text/plain',
    read: (uri, variables) => {
      const text = spaceOf(context, uri, String(variables.space)).document(String(variables.name));
      if (text === undefined) throw new ResourceNotFoundError(uri.href, `the document "${String(variables.name)}" is empty or was never written in this space.`);
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
    },
  };
  return { resources: [overview], templates: [document, space, key] };
}

const spaceArg = z.string().min(1).max(64).describe('The context space (one of mesh.context), e.g. "shop-floor".');
const keyArg = z.string().regex(CONTEXT_NAME).describe('The key: 1 to 256 of A-Z, a-z, 0-9 and . _ ~ : @ -');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type, checked where it is defined
export function contextTools(context: SharedContext): ToolDefinition<any>[] {
  const write = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false };
  return [
    defineTool({
      name: 'context_set',
      title: 'Set a key of a shared context space',
      description: 'Sets a key of a context space to a JSON value; the mesh peers sharing the space get it. Concurrent sets of one key on two nodes settle on one of the values, the same on every node.',
      input: z.object({ space: spaceArg, key: keyArg, value: z.json().describe('Any JSON value.') }),
      annotations: write,
      handler: ({ space, key, value }) => answer(() => (context.space(space).set(key, value), { space, key, set: true })),
    }),
    defineTool({
      name: 'context_delete',
      title: 'Delete a key (or empty a document) of a shared context space',
      description: 'Removes a key of a context space, or empties one of its documents (document = true), on every peer sharing the space.',
      input: z.object({ space: spaceArg, key: keyArg, document: z.boolean().default(false).describe('Empty the document of this name instead of removing a key.') }),
      annotations: { ...write, destructiveHint: true },
      handler: ({ space, key, document }) => answer(() => ({ space, key, deleted: document ? context.space(space).clear(key) : context.space(space).delete(key) })),
    }),
    defineTool({
      name: 'context_append',
      title: 'Append to a document of a shared context space',
      description: 'Appends text to a document of a context space (created when new), e.g. a line of conversation memory. Appends made on several nodes at once all land.',
      input: z.object({ space: spaceArg, document: keyArg, text: z.string().min(1) }),
      annotations: { ...write, idempotentHint: false },
      handler: ({ space, document, text }) => answer(() => (context.space(space).append(document, text), { space, document, appended: text.length })),
    }),
  ];
}
