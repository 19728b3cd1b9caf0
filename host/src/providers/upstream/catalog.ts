// Reads an upstream's lists, following pagination cursors (bounded), and
// applies the upstream's include/exclude filters.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import { $ZodError } from 'zod/v4/core';
import type { CatalogPart, ProviderCatalog } from '../provider.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../protocol/json-depth.js';
import { issuesInWords } from '../../protocol/issues.js';
import { isLinkFailure } from '../../protocol/jsonrpc.js';
import { isMcpError } from '../../protocol/mcp-error.js';

/** Most pages read from one list; a server paginating forever is cut off here. */
const MAX_PAGES = 100;

async function paged<T>(fetchPage: (cursor?: string) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const { items, nextCursor } = await fetchPage(cursor);
    out.push(...items);
    if (!nextCursor) break;
    cursor = nextCursor;
  }
  return out;
}

/** A compiled include/exclude filter over names; `*` matches any run of characters. */
export function nameFilter(include: readonly string[], exclude: readonly string[]): (name: string) => boolean {
  const compile = (glob: string) => new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  const inc = include.map(compile);
  const exc = exclude.map(compile);
  return (name) => (inc.length === 0 || inc.some((r) => r.test(name))) && !exc.some((r) => r.test(name));
}

type CatalogItem = Tool | Resource | ResourceTemplate | Prompt;

const ITEM_WORD: Record<CatalogPart, string> = { tools: 'tool', resources: 'resource', resourceTemplates: 'resource template', prompts: 'prompt' };
const PART_WORDS: Record<CatalogPart, string> = { tools: 'tools', resources: 'resources', resourceTemplates: 'resource templates', prompts: 'prompts' };
const METHOD: Record<CatalogPart, string> = { tools: 'tools/list', resources: 'resources/list', resourceTemplates: 'resources/templates/list', prompts: 'prompts/list' };

/**
 * Why a list's answer was of no use, or undefined when the link failed (a
 * closed connection, a timeout): the upstream is then down, whatever the list.
 */
function uselessAnswer(part: CatalogPart, err: unknown): string | undefined {
  const method = METHOD[part];
  if (isMcpError(err)) return isLinkFailure(err.code) ? undefined : `its ${method} answer is an error: ${err.message}`;
  // The SDK's Client refuses a result its schema does not take with the schema's error (zod mini's, or classic's: both are $ZodErrors).
  if (err instanceof $ZodError) return `its ${method} answer is not a ${method} result: ${issuesInWords(err)}`;
  return undefined;
}

/**
 * Fetches one part of the catalog, or an empty list when the server lacks the
 * capability. A list other than tools whose answer is an error or not that
 * list (a server that declares resources and answers "method not found" to
 * resources/templates/list) is empty, and `dropped` says why; for tools/list
 * the same throws with that sentence. An item that nests objects and arrays deeper than
 * protocol/json-depth.ts allows is left out, and `dropped` says which: the
 * digest of a tool's definition overflowed the stack on one and ended the
 * process, and a client's tools/list could not have been written.
 */
export async function fetchPart(
  client: Client,
  part: CatalogPart,
  keep: (name: string) => boolean,
  timeout: number,
  dropped: (what: string) => void,
): Promise<CatalogItem[]> {
  let items: CatalogItem[];
  try {
    items = await fetchItems(client, part, keep, timeout);
  } catch (err) {
    const useless = uselessAnswer(part, err);
    if (useless === undefined) throw err;
    // Without its tools an upstream serves nothing; without one of the other lists it still serves its tools.
    if (part === 'tools') throw new Error(useless, { cause: err });
    dropped(`its ${PART_WORDS[part]}: ${useless}`);
    return [];
  }
  if (!items.some((item) => nestsDeeperThan(item))) return items;
  return items.filter((item) => {
    if (!nestsDeeperThan(item)) return true;
    const named = item as { name?: unknown; uri?: unknown; uriTemplate?: unknown };
    dropped(`the ${ITEM_WORD[part]} "${String(named.name ?? named.uri ?? named.uriTemplate)}": its definition nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep`);
    return false;
  });
}

async function fetchItems(client: Client, part: CatalogPart, keep: (name: string) => boolean, timeout: number): Promise<CatalogItem[]> {
  const caps = client.getServerCapabilities() ?? {};
  const opts = { timeout };
  switch (part) {
    case 'tools':
      if (!caps.tools) return [];
      return (await paged(async (cursor) => {
        const r = await client.listTools(cursor ? { cursor } : {}, opts);
        return { items: r.tools, nextCursor: r.nextCursor };
      })).filter((t) => keep(t.name));
    case 'prompts':
      if (!caps.prompts) return [];
      return (await paged(async (cursor) => {
        const r = await client.listPrompts(cursor ? { cursor } : {}, opts);
        return { items: r.prompts, nextCursor: r.nextCursor };
      })).filter((p) => keep(p.name));
    case 'resources':
      if (!caps.resources) return [];
      return paged(async (cursor) => {
        const r = await client.listResources(cursor ? { cursor } : {}, opts);
        return { items: r.resources, nextCursor: r.nextCursor };
      });
    case 'resourceTemplates':
      if (!caps.resources) return [];
      return paged(async (cursor) => {
        const r = await client.listResourceTemplates(cursor ? { cursor } : {}, opts);
        return { items: r.resourceTemplates, nextCursor: r.nextCursor };
      });
  }
}

export const CATALOG_PARTS: readonly CatalogPart[] = ['tools', 'resources', 'resourceTemplates', 'prompts'];

export function emptyCatalog(): ProviderCatalog {
  return { tools: [], resources: [], resourceTemplates: [], prompts: [] };
}
