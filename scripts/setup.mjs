// Makes a fresh clone runnable: npm packages, the wasm core, the TypeScript
// build. Each step is skipped when its inputs have not changed, so running it
// before every `npm start` / `npm test` costs well under a second when current.
import { cpSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { root, run, log, fail, listFiles } from './lib.mjs';

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    fail(`mcp-edge needs Node.js 20.19 or newer; this is ${process.versions.node}.`);
  }
}

/**
 * Installs npm packages when node_modules is missing or older than the lockfile.
 * `npm install`, not `npm ci`: @bytecodealliance/jco-node-fs 0.3.2 (under
 * jco-transpile) names optional platform packages that were never published, so
 * `npm ci` rejects every lockfile npm can write for it. `npm install` follows
 * the lockfile as well and leaves it unchanged.
 */
function installPackages() {
  const marker = join(root, 'node_modules/.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing npm packages (native addons compile from source; this takes a few minutes once)');
  run('npm', ['install', '--no-audit', '--no-fund']);
}

function newestMtime(paths) {
  return Math.max(0, ...paths.flatMap((p) => listFiles(join(root, p))).map((f) => statSync(f).mtimeMs));
}

/** tsc when any TypeScript source or the generated bindings are newer than the build. */
function buildHost() {
  const built = join(root, 'host/dist/index.js');
  const sourcesChanged = !existsSync(built) || newestMtime(['host/src', 'tsconfig.json']) > statSync(built).mtimeMs;
  if (sourcesChanged) {
    log('compiling the TypeScript host');
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
  }
  // The jco output is JavaScript + wasm: tsc does not copy it, so copy it beside the build.
  const from = join(root, 'host/src/core/generated');
  const to = join(root, 'host/dist/core/generated');
  const stamp = (dir) => (existsSync(join(dir, 'STAMP.json')) ? readFileSync(join(dir, 'STAMP.json'), 'utf8') : '');
  if (sourcesChanged || stamp(from) !== stamp(to)) cpSync(from, to, { recursive: true });
  // tsc only rewrites what changed; touch the marker so the next run sees the build as current.
  if (sourcesChanged) run('touch', [built]);
}

checkNode();
installPackages();
run(process.execPath, [join(root, 'scripts/build-core.mjs')]);
buildHost();
