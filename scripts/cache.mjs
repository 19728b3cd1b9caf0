// Where the project keeps what it downloads or builds once and reuses: the
// target Node binaries, cross-built addons, the packed npm project the package
// test installs into. Never inside the clone, never committed; a second run of
// a test or build that finds its entry here skips the slow part.
//
// Plain Node, no dependencies.
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** ~/.cache/mcp-edge/<name> (or under $XDG_CACHE_HOME), created if missing. */
export function cacheDir(/** @type {string} */ name) {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const dir = join(base, 'mcp-edge', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
