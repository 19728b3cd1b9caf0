// Walks a zod config schema: its key paths, fully populated configs that set
// every key, and a Proxy that records which keys a function reads. Used by
// test/config-walk.test.ts to prove that no key of mcp-edge.toml is ignored.
//
// Paths: "gateway.bind_address", "upstreams[].restart.max_restarts" (every
// array element), "offline.destinations.*.url" (every record entry). A path
// ends at a value that holds no further keys: a primitive, or an array or
// record of primitives.
import type { z } from 'zod';

type Schema = z.core.$ZodType;
type Def = { type: string; innerType?: Schema; in?: Schema; shape?: Record<string, Schema>; element?: Schema; keyType?: Schema; valueType?: Schema; options?: Schema[]; entries?: Record<string, unknown>; values?: unknown[] };

const defOf = (schema: Schema): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under optional / default / nullable / readonly / pipe wrappers. */
function unwrap(schema: Schema): Schema {
  let s = schema;
  for (;;) {
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

const isContainer = (schema: Schema): boolean => {
  const d = defOf(unwrap(schema));
  if (d.type === 'object') return true;
  if (d.type === 'union') return (d.options ?? []).some(isContainer);
  if (d.type === 'array') return isContainer(d.element!);
  if (d.type === 'record') return isContainer(d.valueType!);
  return false;
};

const join = (prefix: string, key: string): string => (prefix ? `${prefix}.${key}` : key);

/** Every key path of `schema`. */
export function schemaPaths(schema: Schema, prefix = ''): string[] {
  const d = defOf(unwrap(schema));
  if (d.type === 'object') return Object.entries(d.shape!).flatMap(([key, child]) => (isContainer(child) ? schemaPaths(child, join(prefix, key)) : [join(prefix, key)]));
  if (d.type === 'union') return [...new Set((d.options ?? []).filter(isContainer).flatMap((o) => schemaPaths(o, prefix)))];
  if (d.type === 'array') return schemaPaths(d.element!, `${prefix}[]`);
  if (d.type === 'record') return schemaPaths(d.valueType!, join(prefix, '*'));
  return [prefix];
}

/** Paths of records (their keys are names the user chooses, not schema keys). */
function recordPaths(schema: Schema, prefix = '', out = new Set<string>()): Set<string> {
  const d = defOf(unwrap(schema));
  if (d.type === 'object') for (const [key, child] of Object.entries(d.shape!)) recordPaths(child, join(prefix, key), out);
  else if (d.type === 'union') for (const o of d.options ?? []) recordPaths(o, prefix, out);
  else if (d.type === 'array') recordPaths(d.element!, `${prefix}[]`, out);
  else if (d.type === 'record') {
    out.add(prefix);
    recordPaths(d.valueType!, join(prefix, '*'), out);
  }
  return out;
}

/** Where a populated config makes a choice: an enum, a boolean or a union, and how many options it has. */
type Choices = Map<string, number>;

const CANDIDATES: Record<string, unknown[]> = {
  string: ['x', 'http://127.0.0.1:1/mcp', '127.0.0.1:1', 'a', '/tmp/x', '*', '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo', 'ab'.repeat(32) /* a SHA-256 digest in hex */, '7' /* a PCR number */],
  number: [1, 1024, 0.5, 0, 100, 1_048_576],
};

/** A leaf value the schema accepts (its checks included): the first candidate that passes. */
function leafValue(schema: Schema, path: string): unknown {
  const s = schema as unknown as { safeParse(v: unknown): { success: boolean } };
  const found = (CANDIDATES[defOf(schema).type] ?? []).find((v) => s.safeParse(v).success);
  if (found === undefined) throw new Error(`no sample value for ${path} (${defOf(schema).type}); teach test/helpers/config-walk.ts one`);
  return found;
}

function optionsOf(d: Def): unknown[] | undefined {
  if (d.type === 'enum') return Object.values(d.entries!);
  if (d.type === 'literal') return d.values;
  if (d.type === 'boolean') return [true, false];
  return undefined;
}

/**
 * A value for `schema` that sets every key: objects with all their keys,
 * records with one entry, arrays with one element (one per option of a
 * union). `pick` chooses each enum, boolean and union option by path;
 * `choices` collects where such choices are.
 */
function populate(schema: Schema, path: string, pick: (path: string) => number, choices: Choices): unknown {
  const s = unwrap(schema);
  const d = defOf(s);
  if (d.type === 'object') return Object.fromEntries(Object.entries(d.shape!).map(([key, child]) => [key, populate(child, join(path, key), pick, choices)]));
  if (d.type === 'array') {
    const element = unwrap(d.element!);
    const options = defOf(element).type === 'union' ? defOf(element).options! : [element];
    return options.map((o) => populate(o, `${path}[]`, pick, choices));
  }
  if (d.type === 'record') {
    const key = leafValue(d.keyType!, `${path} (a name)`) as string;
    return { [key]: populate(d.valueType!, join(path, '*'), pick, choices) };
  }
  if (d.type === 'union') {
    choices.set(path, d.options!.length);
    return populate(d.options![pick(path) % d.options!.length]!, path, pick, choices);
  }
  const options = optionsOf(d);
  if (options) {
    choices.set(path, options.length);
    return options[pick(path) % options.length];
  }
  return leafValue(s, path);
}

/**
 * Configs that together set every key with every enum, boolean and union
 * option: the first picks the first option everywhere; each other changes
 * one choice. Not valid configs (a stdio upstream with a url...): they feed
 * the resolver directly, to see what it reads.
 */
export function populatedConfigs(schema: Schema): unknown[] {
  const choices: Choices = new Map();
  const first = populate(schema, '', () => 0, choices);
  const variants = [...choices].flatMap(([at, count]) =>
    Array.from({ length: count - 1 }, (_, i) => populate(schema, '', (p) => (p === at ? i + 1 : 0), new Map())),
  );
  return [first, ...variants];
}

/** `value` behind Proxies that add the schema path of every key read to `reads`. */
function recording(value: unknown, path: string, records: Set<string>, reads: Set<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value as object, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return child;
      let at: string;
      if (Array.isArray(target)) {
        if (!/^\d+$/.test(key)) return child;
        at = `${path}[]`;
      } else at = join(path, records.has(path) ? '*' : key);
      reads.add(at);
      return recording(child, at, records, reads);
    },
  });
}

/** Reads every key of a resolved value, so that sub-configs passed on whole count as read. */
function readAll(value: unknown, seen = new Set<object>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  for (const key of Object.keys(value)) readAll((value as Record<string, unknown>)[key], seen);
}

/** The schema paths `resolve` reads from `config`, including whatever it passes on whole in its result. */
export function pathsRead(schema: Schema, config: unknown, resolve: (config: never) => unknown): Set<string> {
  const reads = new Set<string>();
  readAll(resolve(recording(config, '', recordPaths(schema), reads) as never));
  return reads;
}

/** A concrete key ("upstreams.2.energy") as a schema path ("upstreams[].energy"). */
export const asSchemaPath = (key: string): string => key.replace(/\.(\d+)(?=\.|$)/g, '[]');

export interface Accounting {
  /** Resolves a validated config into options (what "read" means). */
  resolve: (config: never) => unknown;
  /** The keys of a config that are refused as not supported yet. */
  refused: (config: never) => { key: string }[];
}

/** Schema paths that no populated config has read by `resolve` nor refused. */
export function unaccountedKeys(schema: Schema, accounting: Accounting): string[] {
  const covered = new Set<string>();
  for (const config of populatedConfigs(schema)) {
    for (const path of pathsRead(schema, config, accounting.resolve)) covered.add(path);
    for (const { key } of accounting.refused(config as never)) covered.add(asSchemaPath(key));
  }
  return schemaPaths(schema).filter((path) => !covered.has(path));
}
