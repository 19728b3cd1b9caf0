// Builds the single-file mcp-edge executable for Linux x64 or arm64: a Node
// single executable application (SEA) made from the pinned Node of the target
// architecture (scripts/node.mjs, from the npm registry) with postject.
//
//   node scripts/run.mjs platform linux-arm64    npm run build:linux-arm64
//   node scripts/run.mjs platform linux-x64      npm run build:linux-x64
//
// Output: target/platforms/mcp-edge-linux-<arch> and its .sha256.
//
// The executable carries one asset, an archive (platforms/sea/archive.mjs) of
// the npm package's files and its production node_modules, with better-sqlite3
// built for the target; platforms/sea/main.cjs unpacks it on first start. The
// optional native codecs (zstd-napi, lz4-napi) stay out: the component codec
// packs instead, as on any machine where they do not build.
//
// better-sqlite3 is compiled with node-gyp against the target Node's headers
// (the node-linux-<arch> package ships them), for arm64 with Debian's
// g++-aarch64-linux-gnu. Its prebuilt binaries are GitHub release downloads,
// which this project's machines cannot reach, and a WebAssembly SQLite would
// change the storage layer the queue's durability tests were written against.
//
// Everything slow is cached under ~/.cache/mcp-edge/: the target Node, the
// built addon (per addon version, Node version and arch), and the finished
// executable (keyed on the sources it was built from).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeArchive } from '../platforms/sea/archive.mjs';
import { cacheDir } from './cache.mjs';
import { fail, hashTree, listFiles, log, root, run, sha256, timed } from './lib.mjs';
import { PINNED_NODE, unpackPinnedNode } from './node.mjs';

/** Targets: the Node package's arch, and for a cross build the compilers node-gyp uses. */
const TARGETS = {
  'linux-x64': { arch: 'x64', compilers: {} },
  'linux-arm64': {
    arch: 'arm64',
    compilers: { CC: 'aarch64-linux-gnu-gcc', CXX: 'aarch64-linux-gnu-g++', LINK: 'aarch64-linux-gnu-g++', AR: 'aarch64-linux-gnu-ar' },
  },
};
/** The fuse postject flips so Node looks for the blob (Node's documented sentinel). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const OUT = join(root, 'target/platforms');

/** @param {'x64' | 'arm64'} arch  The pinned Node for Linux `arch`, from the cache (downloaded once). */
function pinnedNode(arch) {
  const dir = join(cacheDir('node'), `${PINNED_NODE.version}-linux-${arch}`);
  if (!existsSync(join(dir, 'bin/node'))) unpackPinnedNode(arch, dir);
  return dir;
}

/** node-gyp as npm ships it (npm runs it for every addon install). */
function nodeGyp() {
  const npm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  const script = join(dirname(realpathSync(npm)), '../node_modules/node-gyp/bin/node-gyp.js');
  if (!existsSync(script)) fail(`node-gyp not found beside npm (${script})`);
  return script;
}

/**
 * better_sqlite3.node built for the target, from the sources in `pkg` (the
 * package as npm installed it), cached per addon version, Node version and arch.
 * @param {string} pkg
 * @param {keyof typeof TARGETS} target
 * @param {string} nodeDir
 */
function betterSqlite(pkg, target, nodeDir) {
  const { arch, compilers } = TARGETS[target];
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const cached = join(cacheDir('addons'), `better-sqlite3-${version}-node-${PINNED_NODE.version}-${target}.node`);
  if (existsSync(cached)) return cached;
  const missing = Object.values(compilers).filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) fail(`building for ${target} needs ${missing.join(', ')}: apt-get install g++-aarch64-linux-gnu`);
  const work = join(OUT, `${target}-addon-build`);
  rmSync(work, { recursive: true, force: true });
  cpSync(pkg, work, { recursive: true });
  rmSync(join(work, 'build'), { recursive: true, force: true });
  timed(`compiling better-sqlite3 ${version} for ${target} (node-gyp, a few minutes once)`, () =>
    run(process.execPath, [nodeGyp(), 'rebuild', '--release', `--arch=${arch}`, `--nodedir=${nodeDir}`, '--jobs=2'], {
      cwd: work,
      // npm_config_nodedir too: Debian's npm sets nodedir=/usr (its Node's headers), which npm passes to scripts and node-gyp obeys.
      env: { ...process.env, npm_config_nodedir: nodeDir, ...compilers },
    }),
  );
  copyFileSync(join(work, 'build/Release/better_sqlite3.node'), cached);
  rmSync(work, { recursive: true, force: true });
  return cached;
}

/** Files the running gateway never reads: types, maps, docs, addon sources. */
const PRUNED = [/\.map$/, /\.d\.[cm]?ts$/, /\.md$/i, /^node_modules\/better-sqlite3\/(deps|src)\//, /^node_modules\/better-sqlite3\/build\/(?!Release\/better_sqlite3\.node$)/];

/**
 * The app folder: the npm package (as `npm pack` makes it), its production
 * dependencies at the lockfile's versions, better-sqlite3 built for the target.
 * @param {keyof typeof TARGETS} target
 * @param {string} nodeDir
 */
function stageApp(target, nodeDir) {
  const app = join(OUT, `${target}-app`);
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', OUT], { cwd: root, encoding: 'utf8' });
  if (packed.status !== 0) fail(`npm pack failed:\n${packed.stderr}`);
  const tarball = join(OUT, JSON.parse(packed.stdout)[0].filename);
  run('tar', ['xzf', tarball, '-C', app, '--strip-components=1']);
  copyFileSync(join(root, 'package-lock.json'), join(app, 'package-lock.json'));
  timed('npm install --omit=dev --omit=optional (scripts off: the addon is built for the target below)', () =>
    run('npm', ['install', '--omit=dev', '--omit=optional', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app }),
  );
  const addon = betterSqlite(join(app, 'node_modules/better-sqlite3'), target, nodeDir);
  mkdirSync(join(app, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
  copyFileSync(addon, join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
  copyFileSync(join(root, 'platforms/sea/sea-entry.cjs'), join(app, 'sea-entry.cjs'));
  rmSync(join(app, 'package-lock.json'));
  return app;
}

/**
 * Every file of the app that the gateway may read, in a stable order
 * (listFiles in lib.mjs skips node_modules, which the app needs).
 * @param {string} app
 */
function appFiles(app) {
  /** @type {string[]} */
  const all = [];
  const walk = (/** @type {string} */ dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) all.push(path);
    }
  };
  walk(app);
  return all.filter((file) => !PRUNED.some((pattern) => pattern.test(relative(app, file))));
}

/**
 * Builds the executable for `target` into target/platforms/; returns its path.
 * @param {keyof typeof TARGETS} target
 */
export function buildPlatform(target) {
  if (!Object.hasOwn(TARGETS, target)) fail(`unknown target "${target}"; use one of: ${Object.keys(TARGETS).join(', ')}`);
  mkdirSync(OUT, { recursive: true });
  const name = `mcp-edge-${target}`;
  const output = join(OUT, name);
  const key = sha256(
    [hashTree(['host/src', 'host/bin', 'platforms/sea', 'package.json', 'package-lock.json', 'scripts/build-platform.mjs']), PINNED_NODE.version, target].join('\n'),
  ).slice(0, 16);
  const cached = join(cacheDir('platforms'), `${name}-${key}`);
  if (!existsSync(cached)) {
    const targetNode = pinnedNode(TARGETS[target].arch);
    // The blob is made by the same Node version as the one it runs in (this machine's arch).
    const buildNode = process.versions.node === PINNED_NODE.version ? process.execPath : join(pinnedNode(/** @type {'x64' | 'arm64'} */ (process.arch)), 'bin/node');
    const app = stageApp(target, targetNode);
    const files = appFiles(app);
    const archive = writeArchive(app, files);
    const assets = join(OUT, `${target}-sea`);
    rmSync(assets, { recursive: true, force: true });
    mkdirSync(assets);
    writeFileSync(join(assets, 'app.bin'), archive);
    writeFileSync(join(assets, 'app.sha256'), `${sha256(archive)}\n`);
    log(`app archive: ${files.length} files, ${(archive.length / 1e6).toFixed(1)} MB`);
    const config = {
      main: join(root, 'platforms/sea/main.cjs'),
      output: join(assets, 'sea-prep.blob'),
      disableExperimentalSEAWarning: true,
      // A cross build: the code cache and the snapshot are made by this machine's V8 and would not load on another arch.
      useSnapshot: false,
      useCodeCache: false,
      assets: { app: join(assets, 'app.bin'), 'app.sha256': join(assets, 'app.sha256') },
    };
    writeFileSync(join(assets, 'sea-config.json'), JSON.stringify(config, null, 2));
    run(buildNode, ['--experimental-sea-config', join(assets, 'sea-config.json')]);
    const building = `${cached}.partial-${process.pid}`;
    copyFileSync(join(targetNode, 'bin/node'), building);
    chmodSync(building, 0o755);
    timed(`postject into the Node ${PINNED_NODE.version} linux-${TARGETS[target].arch} binary`, () =>
      run(process.execPath, [join(root, 'node_modules/postject/dist/cli.js'), building, 'NODE_SEA_BLOB', config.output, '--sentinel-fuse', SEA_FUSE]),
    );
    renameSync(building, cached);
    // One build per target stays: older ones are 160 MB each.
    for (const old of readdirSync(dirname(cached)).filter((entry) => entry.startsWith(`${name}-`) && join(dirname(cached), entry) !== cached)) {
      rmSync(join(dirname(cached), old), { force: true });
    }
    rmSync(app, { recursive: true, force: true });
  } else {
    log(`${name}: sources unchanged, the build from ${cached}`);
  }
  copyFileSync(cached, output);
  chmodSync(output, 0o755);
  writeFileSync(`${output}.sha256`, `${sha256(readFileSync(output))}  ${name}\n`);
  log(`${relative(root, output)}: ${(statSync(output).size / 1e6).toFixed(1)} MB`);
  return output;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [target = ''] = process.argv.slice(2);
  buildPlatform(/** @type {keyof typeof TARGETS} */ (target));
}
