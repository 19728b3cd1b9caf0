// Makes a fresh clone runnable: npm packages, the wasm core, the TypeScript
// build. Each step is skipped when its inputs have not changed, so running it
// before every `npm start` / `npm test` costs well under a second when current.
// Runs under the Node that scripts/run.mjs chose (native addons are built for it).
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, run, listFiles, timed } from './lib.mjs';
import { PROJECT_NODE, PROJECT_NODE_DIR } from './node.mjs';

/** Which Node the native addons in node_modules were built for. */
const ABI_MARKER = join(root, 'node_modules/.mcp-edge-node-abi');
const currentAbi = () => `node ${process.versions.node} (modules ${process.versions.modules})\n`;

/**
 * npm's environment: when running under the project's own Node, node-gyp
 * takes that Node's headers from .node/include instead of downloading them.
 */
function npmEnv() {
  const env = { ...process.env };
  if (process.execPath === PROJECT_NODE) env.npm_config_nodedir = PROJECT_NODE_DIR;
  return env;
}

/**
 * Installs npm packages when node_modules is missing or older than the lockfile,
 * and rebuilds the native addons when they were built for another Node.
 * `npm install`, not `npm ci`: @bytecodealliance/jco-node-fs 0.3.2 (under
 * jco-transpile) names optional platform packages that were never published, so
 * `npm ci` rejects every lockfile npm can write for it. `npm install` follows
 * the lockfile as well and leaves it unchanged.
 */
function installPackages() {
  const marker = join(root, 'node_modules/.package-lock.json');
  const lock = join(root, 'package-lock.json');
  const installed = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
  const builtFor = existsSync(ABI_MARKER) ? readFileSync(ABI_MARKER, 'utf8') : null;
  if (installed && builtFor === currentAbi()) return;
  if (installed) {
    const was = builtFor ? builtFor.trim() : 'an unknown Node';
    timed(`npm rebuild (native addons were built for ${was})`, () => run('npm', ['rebuild'], { env: npmEnv() }));
  } else {
    timed('npm install (native addons compile from source: a few minutes, once)', () =>
      run('npm', ['install', '--no-audit', '--no-fund'], { env: npmEnv() }),
    );
  }
  writeFileSync(ABI_MARKER, currentAbi());
}

function newestMtime(paths) {
  return Math.max(0, ...paths.flatMap((p) => listFiles(join(root, p))).map((f) => statSync(f).mtimeMs));
}

/** tsc when any TypeScript source or the generated bindings are newer than the build. */
function buildHost() {
  const built = join(root, 'host/dist/index.js');
  const sourcesChanged = !existsSync(built) || newestMtime(['host/src', 'tsconfig.json']) > statSync(built).mtimeMs;
  if (sourcesChanged) {
    timed('compiling the TypeScript host (tsc)', () => run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']));
  }
  // The jco output is JavaScript + wasm: tsc does not copy it, so copy it beside the build.
  const from = join(root, 'host/src/core/generated');
  const to = join(root, 'host/dist/core/generated');
  const stamp = (dir) => (existsSync(join(dir, 'STAMP.json')) ? readFileSync(join(dir, 'STAMP.json'), 'utf8') : '');
  if (sourcesChanged || stamp(from) !== stamp(to)) cpSync(from, to, { recursive: true });
  // tsc only rewrites what changed; touch the marker so the next run sees the build as current.
  if (sourcesChanged) run('touch', [built]);
  // The CLI's start bundle (scripts/bundle-cli.mjs), after tsc: host/bin/launch.js runs it only when it is the newer.
  if (sourcesChanged || !existsSync(join(root, 'host/dist/cli.bundle.js'))) run(process.execPath, [join(root, 'scripts/bundle-cli.mjs')]);
}

/** Everything `npm start` and `npm test` need, each step only when stale. */
export function setup() {
  installPackages();
  run(process.execPath, [join(root, 'scripts/build-core.mjs')]);
  buildHost();
}
