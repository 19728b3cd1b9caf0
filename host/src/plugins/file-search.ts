// The walk behind file_search: breadth-first over the roots, bounded in entries
// looked at, results and time. Symbolic links are followed only to files that
// stay inside the roots; linked folders are not entered (no cycles, no escape).
import { constants } from 'node:fs';
import { open, opendir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Roots } from './common.js';

export interface SearchLimits {
  maxResults: number;
  maxScannedEntries: number;
  maxFileBytes: number;
  deadline: number;
  signal: AbortSignal;
}

export interface SearchQuery {
  /** Folders to start from (real paths inside the roots). */
  starts: string[];
  name?: string;
  contains?: string;
  ignoreCase: boolean;
}

export interface SearchMatch {
  path: string;
  size: number;
  /** First matching line (1-based) and its text, for content searches. */
  line?: number;
  preview?: string;
}

export type StopReason = 'max_results' | 'max_scanned_entries' | 'timeout' | 'cancelled';

export interface SearchOutcome {
  matches: SearchMatch[];
  scanned: number;
  stopped?: StopReason;
}

/** Compiles a glob (*, **, ?, [...], {a,b}) to a RegExp over '/'-separated paths. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '{') (out += '(?:'), depth++;
    else if (c === '}' && depth > 0) (out += ')'), depth--;
    else if (c === ',' && depth > 0) out += '|';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        out += `[${body}]`;
        i = end;
      }
    } else out += c.replace(/[.+^$()|\\\]/]/g, '\\$&');
  }
  if (depth > 0) throw new Error(`unbalanced "{" in glob ${glob}`);
  return new RegExp(`^${out}$`);
}

/** A name filter: globs without "/" match the file name, others the path below the start. */
function nameFilter(glob: string | undefined): (relPath: string, baseName: string) => boolean {
  if (!glob) return () => true;
  const re = globToRegExp(glob);
  return glob.includes('/') ? (rel) => re.test(rel) : (_rel, base) => re.test(base);
}

/** Looks for `needle` in a file; skips files that look binary (a NUL in the first 8 KiB). */
async function findInFile(path: string, needle: string, ignoreCase: boolean, maxBytes: number): Promise<{ line: number; preview: string } | undefined> {
  // No blocking on a fifo, no following a link swapped in since the walk looked.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) return undefined;
    const buffer = Buffer.alloc(size);
    await handle.read(buffer, 0, size, 0);
    if (buffer.subarray(0, 8192).includes(0)) return undefined;
    const text = buffer.toString('utf8');
    const hay = ignoreCase ? text.toLowerCase() : text;
    const at = hay.indexOf(ignoreCase ? needle.toLowerCase() : needle);
    if (at < 0) return undefined;
    const lineStart = text.lastIndexOf('\n', at) + 1;
    const lineEnd = text.indexOf('\n', at);
    const line = text.slice(0, at).split('\n').length;
    return { line, preview: text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd).slice(0, 200) };
  } finally {
    await handle.close();
  }
}

/** What a directory entry is, with links resolved and confined; undefined to skip it. */
async function classify(roots: Roots, path: string, isLink: boolean): Promise<{ kind: 'dir' | 'file'; real: string; size: number } | undefined> {
  try {
    const real = isLink ? await realpath(path) : path;
    if (isLink && !roots.contains(real)) return undefined;
    const info = await stat(real);
    if (info.isDirectory()) return isLink ? undefined : { kind: 'dir', real, size: 0 };
    if (info.isFile()) return { kind: 'file', real, size: info.size };
    return undefined; // sockets, fifos, devices: never read
  } catch {
    return undefined; // vanished or unreadable mid-walk: not a match, not a failure
  }
}

function stopReason(outcome: SearchOutcome, limits: SearchLimits): StopReason | undefined {
  if (limits.signal.aborted) return 'cancelled';
  if (Date.now() > limits.deadline) return 'timeout';
  if (outcome.scanned >= limits.maxScannedEntries) return 'max_scanned_entries';
  if (outcome.matches.length >= limits.maxResults) return 'max_results';
  return undefined;
}

/** Searches below each start folder; stops at the first limit reached and says which. */
export async function searchFiles(roots: Roots, query: SearchQuery, limits: SearchLimits): Promise<SearchOutcome> {
  const outcome: SearchOutcome = { matches: [], scanned: 0 };
  const matchesName = nameFilter(query.name);
  for (const start of query.starts) {
    const queue = [start];
    while (queue.length > 0) {
      const dir = queue.shift()!;
      const entries = await opendir(dir).catch(() => undefined);
      if (!entries) continue;
      for await (const entry of entries) {
        outcome.stopped = stopReason(outcome, limits);
        if (outcome.stopped) return outcome;
        outcome.scanned++;
        const path = join(dir, entry.name);
        const found = await classify(roots, path, entry.isSymbolicLink());
        if (!found) continue;
        if (found.kind === 'dir') {
          queue.push(path);
          continue;
        }
        const rel = relative(start, path).split(sep).join('/');
        if (!matchesName(rel, entry.name)) continue;
        if (query.contains === undefined) {
          outcome.matches.push({ path, size: found.size });
          continue;
        }
        const hit = await findInFile(found.real, query.contains, query.ignoreCase, limits.maxFileBytes).catch(() => undefined);
        if (hit) outcome.matches.push({ path, size: found.size, ...hit });
      }
    }
  }
  return outcome;
}
