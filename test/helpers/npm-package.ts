// The npm package as a new user gets it: `npm pack` of this clone, installed
// into an empty project by npm with no Rust toolchain on PATH. Installing
// compiles better-sqlite3 and zstd-napi from source (minutes on 2 cores), so
// the installed project is kept in ~/.cache/mcp-edge/npm-package/, keyed on
// what decides it (the package's dependencies, the Node ABI); a later run copies
// it and installs only the new tarball over it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cacheDir } from '../../scripts/cache.mjs';
import { ROOT } from './processes.js';

export interface PackedFile {
  path: string;
  size: number;
}

export interface Packed {
  tarball: string;
  /** Bytes of the .tgz and of its files unpacked. */
  size: number;
  unpackedSize: number;
  files: PackedFile[];
}

interface NpmPackJson {
  filename: string;
  size: number;
  unpackedSize: number;
  files: PackedFile[];
}

/** Runs `npm pack` on the clone (host/dist must be built) into `into`. */
export function packClone(into: string): Packed {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', into], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out) as NpmPackJson[];
  if (!info) throw new Error(`npm pack printed no package: ${out}`);
  return { tarball: join(into, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.files };
}

/** Folder of programs shadowing the Rust toolchain: each records that it was called, then fails. */
function noRustBin(dir: string): { bin: string; calls: string } {
  const bin = join(dir, 'no-rust-bin');
  const calls = join(dir, 'rust-calls.log');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['cargo', 'rustc', 'rustup']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "$0 $*" >> '${calls}'\necho "no Rust toolchain here" >&2\nexit 127\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  return { bin, calls };
}

/**
 * The environment of a user's machine without Rust: this one (its proxy and CA
 * settings reach the registry) with PATH remade: this Node first, then the
 * system folders, cargo/rustc/rustup shadowed (Debian's rustc-web lives in
 * /usr/bin) and ~/.cargo/bin left out. `calls` lists any Rust tool run.
 */
export function userEnv(dir: string): { env: NodeJS.ProcessEnv; calls: string } {
  const { bin, calls } = noRustBin(dir);
  const nodeDir = dirname(dirname(process.execPath));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(CARGO|RUSTUP|RUSTC|RUSTFLAGS|npm_|VITEST|NODE_OPTIONS)/i.test(name)) delete env[name];
  }
  Object.assign(env, {
    PATH: [bin, dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  });
  // node-gyp builds the addons against this Node's headers when it ships them
  // (the project's pinned Node does); otherwise Debian's npm points it at /usr.
  if (existsSync(join(nodeDir, 'include/node/node.h'))) env.npm_config_nodedir = nodeDir;
  return { env, calls };
}

const versionOf = (pkg: string): string => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

/** What a user adds beside mcp-edge to type-check with it: the versions this clone uses. */
export function typeScriptTooling(): string[] {
  return [`typescript@${versionOf('typescript')}`, `@types/node@${versionOf('@types/node')}`];
}

/** Dependencies npm compiles on install: what makes a cached project slow to remake. */
const NATIVE = ['better-sqlite3', 'zstd-napi', 'lz4-napi'];

/**
 * The cache key: the native dependencies' ranges and the Node ABI. Other
 * dependencies may differ from the cached project's: installing the new
 * tarball over it adds, updates and removes them as for any user.
 */
function installKey(): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  const ranges = NATIVE.map((name) => manifest.dependencies?.[name] ?? manifest.optionalDependencies?.[name] ?? null);
  const hash = createHash('sha256');
  hash.update(JSON.stringify([ranges, typeScriptTooling(), process.versions.modules, process.arch]));
  return hash.digest('hex').slice(0, 16);
}

/**
 * An empty project (`type: module`) with `tarball` installed by npm under the
 * user environment; returns its folder. `fresh` says whether this run installed
 * every dependency (no cached project yet).
 */
export function installIntoEmptyProject(tarball: string, work: string, env: NodeJS.ProcessEnv): { project: string; fresh: boolean } {
  const project = join(work, 'project');
  const cached = join(cacheDir('npm-package'), installKey());
  const fresh = !existsSync(join(cached, 'node_modules'));
  if (fresh) {
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'empty-project', private: true, type: 'module' }, null, 2));
  } else {
    cpSync(cached, project, { recursive: true, verbatimSymlinks: true });
  }
  const npm = (args: string[]) => execFileSync('npm', args, { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
  npm(['install', '--prefer-offline', tarball]);
  if (fresh) {
    npm(['install', '--prefer-offline', '--save-dev', '--save-exact', ...typeScriptTooling()]);
    // Copied beside the entry, then renamed: a run stopped midway leaves no half entry.
    const partial = `${cached}.partial-${process.pid}`;
    cpSync(project, partial, { recursive: true, verbatimSymlinks: true });
    rmSync(cached, { recursive: true, force: true });
    renameSync(partial, cached);
  }
  return { project, fresh };
}
