// V8's compiled code of the ~460 modules a start loads, kept on disk between
// runs (Node's module compile cache, Node >= 22.1): a start after the first
// parses and compiles little (bench/startup/README.md). Used by the mcp-edge
// command and by the single-file executable (platforms/sea/sea-entry.cjs).
//
// Where: NODE_COMPILE_CACHE when set (Node's own variable); else the systemd
// unit's CacheDirectory ($CACHE_DIRECTORY); else $XDG_CACHE_HOME/mcp-edge/compile;
// else ~/.cache/mcp-edge/compile. Not Node's default, the OS temp dir: on many
// Raspberry Pi systems that is a RAM disk emptied at boot, and the unit's
// PrivateTmp empties it at every restart. NODE_DISABLE_COMPILE_CACHE=1 turns it
// off; a folder that cannot be written leaves it off, and the start goes on.
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The folder of the compile cache for this environment.
 * @param {NodeJS.ProcessEnv} env
 * @returns {string}
 */
export function compileCacheDir(env = process.env) {
  if (env.NODE_COMPILE_CACHE) return env.NODE_COMPILE_CACHE;
  // systemd may list several folders, separated by colons; the unit sets one.
  const unitCache = env.CACHE_DIRECTORY?.split(':')[0];
  if (unitCache) return join(unitCache, 'compile');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mcp-edge', 'compile');
}

/** Turns the compile cache on for the modules loaded from here on; never throws. */
export function enableStartCache() {
  try {
    enableCompileCache?.(compileCacheDir());
  } catch {
    // No home folder, say: the start just compiles everything.
  }
}
