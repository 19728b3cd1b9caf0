// Small helpers shared by the project's scripts. Plain Node, no dependencies:
// these run before `npm ci` on a fresh clone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @param {string} message */
export function log(message) {
  process.stderr.write(`[mcp-edge] ${message}\n`);
}

/**
 * Runs a long step with a line before and after it, the second with how long
 * it took, so a first run that spends minutes in apt, npm or cargo says where.
 * @template T
 * @param {string} label
 * @param {() => T} fn
 * @returns {T}
 */
export function timed(label, fn) {
  log(`${label} ...`);
  const started = performance.now();
  /** @param {unknown} value */
  const done = (value) => {
    log(`${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return value;
  };
  const result = fn();
  return /** @type {T} */ (result instanceof Promise ? result.then(done) : done(result));
}

/**
 * @param {string} message
 * @returns {never}
 */
export function fail(message) {
  process.stderr.write(`\n[mcp-edge] ${message}\n\n`);
  process.exit(1);
}

/**
 * Runs a command, inheriting stdio; exits the script when it fails.
 * @param {string} cmd
 * @param {string[]} args
 * @param {import('node:child_process').SpawnSyncOptions} [options]
 */
export function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) fail(`could not run ${cmd}: ${result.error.message}`);
  if (result.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${result.status}`);
}

/**
 * Runs a command quietly; returns its stdout, or null when it fails or is missing.
 * @param {string} cmd
 * @param {string[]} args
 * @param {import('node:child_process').SpawnSyncOptions} [options]
 * @returns {string | null}
 */
export function probe(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, ...options, encoding: 'utf8' });
  return result.status === 0 ? result.stdout : null;
}

/**
 * Every file under `dir` (recursively), skipping build output folders.
 * @param {string} dir
 * @returns {string[]}
 */
export function listFiles(dir) {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'target' || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out.sort();
}

/**
 * A sha256 over the relative paths and contents of `paths` (files or folders).
 * @param {string[]} paths
 * @param {(file: string) => boolean} [keep]
 */
export function hashTree(paths, keep = () => true) {
  const hash = createHash('sha256');
  for (const file of paths.flatMap((p) => listFiles(join(root, p))).filter(keep)) {
    hash.update(relative(root, file));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** @param {import('node:crypto').BinaryLike} bytes */
export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}
