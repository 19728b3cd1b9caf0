// How the CLI is loaded, by the mcp-edge command (mcp-edge.js) and by the
// single-file executable (platforms/sea/sea-entry.cjs): with Node's module
// compile cache on, and from the bundle when there is a current one.
//
// The compile cache (Node >= 22.1) keeps V8's compiled code of the modules a
// start loads on disk between runs: a start after the first parses and
// compiles little (bench/startup/README.md). Where: NODE_COMPILE_CACHE when set
// (Node's own variable); else the systemd unit's CacheDirectory
// ($CACHE_DIRECTORY); else $XDG_CACHE_HOME/mcp-edge/compile; else
// ~/.cache/mcp-edge/compile. Not Node's default, the OS temp dir: on many
// Raspberry Pi systems that is a RAM disk emptied at boot, and the unit's
// PrivateTmp empties it at every restart. NODE_DISABLE_COMPILE_CACHE=1 turns it
// off; a folder that cannot be written leaves it off, and the start goes on.
//
// The bundle (host/dist/cli.bundle.js, scripts/bundle-cli.mjs) holds the CLI
// with the packages every start loads, in a few files instead of ~460. It is
// used when it is at least as new as tsc's last build (host/dist/.tsbuildinfo,
// absent from the npm package): a host rebuilt by tsc alone runs unbundled, never stale.
import { statSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

/** ms since the epoch of `file`'s last change; -1 when it is missing. @param {string} file */
function changedAt(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * The CLI module to import (a file URL): the bundle when it is current, else
 * tsc's build. MCP_EDGE_NO_BUNDLE=1 always takes tsc's build (to compare the two).
 * @param {string} dist  the build folder (host/dist)
 * @param {NodeJS.ProcessEnv} env
 * @returns {string}
 */
export function cliModule(dist = DIST, env = process.env) {
  const bundle = changedAt(join(dist, 'cli.bundle.js'));
  const useBundle = env.MCP_EDGE_NO_BUNDLE !== '1' && bundle >= 0 && bundle >= changedAt(join(dist, '.tsbuildinfo'));
  return pathToFileURL(join(dist, useBundle ? 'cli.bundle.js' : 'cli.js')).href;
}
