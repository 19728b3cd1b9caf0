// The digest of an upstream tool's definition: SHA-256 over canonical JSON
// (object keys sorted at every depth, arrays in their order, no whitespace),
// so that a server that serialises the same definition with its keys in
// another order keeps its pin, while any change to what a client would see
// (name, title, description, schemas, annotations, icons, execution, _meta)
// is a new digest. Array order counts: `enum` and `oneOf` orders can matter.
import { createHash } from '../../crypto.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';

/** A JSON value: what a definition that came over the wire is made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ordinal = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Each object as a copy with its keys in ordinal order, for JSON.stringify
 * (native, about twice as fast as walking the value here). The copy has no
 * prototype, so a member named "__proto__" stays a member, and counts.
 */
function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(record).sort(ordinal)) sorted[key] = record[key];
  return sorted;
}

/** `value` as JSON with every object's keys in ordinal order; undefined members are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, sortedKeys) ?? 'null';
}

/** Digests of the tool objects seen so far: a catalog keeps its objects until the upstream lists again. */
const digests = new WeakMap<Tool, { canonical: string; digest: string }>();

/** The canonical JSON of a tool's whole definition and its SHA-256 (hex). */
export function toolDigest(tool: Tool): { canonical: string; digest: string } {
  const known = digests.get(tool);
  if (known) return known;
  const canonical = canonicalJson(tool);
  const computed = { canonical, digest: createHash('sha256').update(canonical).digest('hex') };
  digests.set(tool, computed);
  return computed;
}

/** The first 12 hex digits: enough to tell definitions apart by eye, and what `--digest` takes at least. */
export const shortDigest = (digest: string): string => digest.slice(0, 12);
