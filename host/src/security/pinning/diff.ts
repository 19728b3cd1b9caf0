// A readable difference between two tool definitions, for `mcp-edge tools
// diff`. A definition is JSON, so the difference is by path: members added,
// removed or changed (`inputSchema.properties.path`), where a line diff of
// pretty-printed JSON would scatter one change over braces and commas.
// Objects are compared member by member; arrays and scalars as a whole.
// Every string from the upstream passes through printable() first.
import { canonicalJson } from './digest.js';
import { hiddenCount, printable } from './words.js';

export interface Change {
  op: 'added' | 'removed' | 'changed';
  /** Member names from the root of the definition. */
  path: string[];
  before?: unknown;
  after?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The changes that turn `before` into `after`, in ordinal order of their paths. */
export function definitionChanges(before: unknown, after: unknown, path: string[] = []): Change[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return keys.flatMap((key): Change[] => {
      const at = [...path, key];
      if (!Object.hasOwn(before, key)) return [{ op: 'added', path: at, after: after[key] }];
      if (!Object.hasOwn(after, key)) return [{ op: 'removed', path: at, before: before[key] }];
      return definitionChanges(before[key], after[key], at);
    });
  }
  return canonicalJson(before) === canonicalJson(after) ? [] : [{ op: 'changed', path, before, after }];
}

/** `a.b["odd key"]`: member names that are identifiers joined by dots, others quoted. */
export function pathText(path: string[]): string {
  if (path.length === 0) return '(the whole definition)';
  return path.map((key, i) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${i === 0 ? '' : '.'}${key}` : `[${printable(JSON.stringify(key))}]`)).join('');
}

/** A value as lines: strings as their text (one line each), short JSON inline, long JSON pretty-printed. */
function valueLines(value: unknown): string[] {
  if (typeof value === 'string') return printable(value).split('\n');
  const compact = canonicalJson(value);
  if (compact.length <= 100) return [printable(compact)];
  return printable(JSON.stringify(JSON.parse(compact), null, 2)).split('\n');
}

/** One change as the lines an operator reads, with `+`/`-` in front of each line of a value. */
function changeLines(change: Change): string[] {
  const path = pathText(change.path);
  if (change.op !== 'changed') {
    const lines = valueLines(change.op === 'added' ? change.after : change.before);
    const sign = change.op === 'added' ? '+' : '-';
    if (lines.length === 1) return [`${sign} ${path}: ${lines[0]}`];
    return [`${sign} ${path}:`, ...lines.map((l) => `    ${sign} ${l}`)];
  }
  const before = valueLines(change.before);
  const after = valueLines(change.after);
  const inline = typeof change.before !== 'string' && typeof change.after !== 'string' && before.length === 1 && after.length === 1;
  if (inline) return [`~ ${path}: ${before[0]} -> ${after[0]}`];
  return [`~ ${path}:`, ...before.map((l) => `    - ${l}`), ...after.map((l) => `    + ${l}`)];
}

/** The readable difference between two definitions (canonical JSON text, or null when there was none). */
export function renderDiff(before: string | null, after: string): string[] {
  const changes = definitionChanges(before === null ? {} : JSON.parse(before), JSON.parse(after));
  return changes.flatMap(changeLines);
}

/** How many hidden characters the strings (and member names) of a definition hold. */
export function hiddenCharacters(definition: string): number {
  const count = (v: unknown): number => {
    if (typeof v === 'string') return hiddenCount(v);
    if (Array.isArray(v)) return v.reduce((n: number, x) => n + count(x), 0);
    if (isObject(v)) return Object.entries(v).reduce((n, [k, x]) => n + hiddenCount(k) + count(x), 0);
    return 0;
  };
  return count(JSON.parse(definition));
}
