// Builds the edge-core WebAssembly component and its JavaScript bindings:
//   cargo (wasm32, simd128) -> wasm-opt -Oz -> componentNew -> jco transpile
// into host/src/core/generated/. Skips all of it when the inputs are unchanged.
//
//   node scripts/build-core.mjs           build if stale
//   node scripts/build-core.mjs --force   rebuild even when current
//   node scripts/build-core.mjs --check   fail if generated code is stale or edited
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root, log, fail, run, hashTree, sha256, timed } from './lib.mjs';
import { findToolchain, cargoBuild, TARGET } from './toolchain.mjs';

/** Everything whose change means the component must be rebuilt. */
const INPUTS = ['Cargo.toml', 'Cargo.lock', 'crates', 'wit', 'scripts/build-core.mjs', 'scripts/toolchain.mjs'];
const GENERATED = join(root, 'host/src/core/generated');
const STAMP = join(GENERATED, 'STAMP.json');
const TARGET_DIR = join(root, 'target/wasm');
export const COMPONENT_PATH = join(root, 'target/component/edge-core.wasm');
/** @satisfies {NonNullable<Parameters<typeof import('@bytecodealliance/jco-transpile').transpileBytes>[1]>} */
const TRANSPILE_OPTIONS = {
  name: 'edge-core',
  instantiation: 'async',
  emitTypescriptDeclarations: true,
  // One artifact for Node and browsers: no Node-only shims in the bindings.
  nodejsCompat: false,
};

function readStamp() {
  return existsSync(STAMP) ? JSON.parse(readFileSync(STAMP, 'utf8')) : null;
}

/** @param {Uint8Array} coreModule */
async function optimize(coreModule) {
  const { default: binaryen } = await import('binaryen');
  const module = binaryen.readBinary(coreModule);
  // The features rustc emits for wasm32 today, plus simd128; nothing newer, so
  // every browser and Node that runs SIMD runs the result.
  const F = binaryen.Features;
  module.setFeatures(F.MVP | F.SIMD128 | F.BulkMemory | F.BulkMemoryOpt | F.CallIndirectOverlong |
    F.NontrappingFPToInt | F.SignExt | F.MutableGlobals | F.Multivalue | F.ReferenceTypes);
  // -O3, not -Oz: the core is mostly the zstd/lz4 hot loops, and -O3 measured
  // 10-20% faster zstd compression (bench/codec) for 41 KB more (595 vs 554 KB).
  binaryen.setOptimizeLevel(3);
  binaryen.setShrinkLevel(0);
  module.optimize();
  const out = module.emitBinary();
  module.dispose();
  return out;
}

async function buildComponent() {
  const route = findToolchain();
  const build = cargoBuild(route, TARGET_DIR);
  timed(`cargo build of the core for wasm32 with ${route.name} (a few minutes the first time)`, () => run(build.cmd, build.args, { env: build.env }));
  const corePath = join(TARGET_DIR, TARGET, 'release/edge_core_component.wasm');
  const core = readFileSync(corePath);
  const optimized = await timed('wasm-opt -O3', () => optimize(core));
  const { componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const component = await componentNew(optimized);
  mkdirSync(join(root, 'target/component'), { recursive: true });
  writeFileSync(COMPONENT_PATH, component);
  log(`component: ${component.length} bytes (core module ${core.length} -> ${optimized.length} after wasm-opt)`);
  return component;
}

/** Transpiles the component; returns file name -> bytes. */
// jco's bindings ask `process.env.JCO_DEBUG` on every call into the core (a
// native property lookup each time, 2-3x the cost of a small call). Reading it
// once when the module loads keeps the same switch and drops the per-call cost.
// Part of generation, so `--check` applies it too; a jco that changes this line
// fails the build instead of silently skipping it.
const DEBUG_PER_CALL = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }';
const DEBUG_ONCE = 'if (!JCO_DEBUG_AT_LOAD) { return; }';
const DEBUG_FLAG = 'const JCO_DEBUG_AT_LOAD = Boolean(globalThis?.process?.env?.JCO_DEBUG);\n';

/**
 * @param {string} name
 * @param {Uint8Array} bytes
 */
function readDebugFlagOnce(name, bytes) {
  if (!name.endsWith('.js')) return bytes;
  const text = new TextDecoder().decode(bytes);
  if (!text.includes(DEBUG_PER_CALL)) fail(`jco output changed: ${name} no longer has the JCO_DEBUG check build-core rewrites; update scripts/build-core.mjs.`);
  return new TextEncoder().encode(DEBUG_FLAG + text.replaceAll(DEBUG_PER_CALL, DEBUG_ONCE));
}

/**
 * @param {Uint8Array} component
 * @returns {Promise<Record<string, Uint8Array>>}
 */
export async function transpileComponent(component) {
  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  const { files, imports } = await transpileBytes(component, TRANSPILE_OPTIONS);
  if (imports.length > 0) fail(`the component must import nothing, but it imports: ${imports.join(', ')}`);
  const main = `${TRANSPILE_OPTIONS.name}.js`;
  if (!files[main]) fail(`jco output has no ${main}`);
  return { ...files, [main]: readDebugFlagOnce(main, files[main]) };
}

/**
 * @param {Record<string, Uint8Array>} files
 * @param {{ inputsHash: string; componentSha256: string; componentBytes: number }} stamp
 */
function writeGenerated(files, stamp) {
  for (const name of readdirSync(GENERATED)) {
    if (name !== 'README.md') rmSync(join(GENERATED, name), { recursive: true });
  }
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(join(GENERATED, name, '..'), { recursive: true });
    writeFileSync(join(GENERATED, name), bytes);
  }
  writeFileSync(STAMP, JSON.stringify(stamp, null, 2) + '\n');
}

/** Proves host/src/core/generated matches the current sources and was not hand-edited. */
/** @param {string} inputsHash */
async function check(inputsHash) {
  const stamp = readStamp();
  if (!stamp) fail('host/src/core/generated is empty: run `node scripts/build-core.mjs`.');
  if (stamp.inputsHash !== inputsHash) {
    fail('generated core bindings are stale: Rust or WIT sources changed. Run `node scripts/build-core.mjs`.');
  }
  const component = readFileSync(COMPONENT_PATH);
  if (sha256(component) !== stamp.componentSha256) fail('target/component/edge-core.wasm differs from STAMP.json: rebuild.');
  const files = await transpileComponent(component);
  for (const [name, bytes] of Object.entries(files)) {
    const path = join(GENERATED, name);
    if (!existsSync(path) || sha256(readFileSync(path)) !== sha256(bytes)) {
      fail(`host/src/core/generated/${name} does not match a fresh transpile: it was edited by hand. Rebuild.`);
    }
  }
  log('generated core bindings are current');
}

async function main() {
  // cargo-fuzz crates (crates/*/fuzz) are not in the component, and fuzzing rewrites their corpus.
  const inputsHash = hashTree(INPUTS, (file) => !file.includes('/fuzz/'));
  if (process.argv.includes('--check')) return check(inputsHash);
  const stamp = readStamp();
  const current = stamp?.inputsHash === inputsHash && existsSync(COMPONENT_PATH) && !process.argv.includes('--force');
  if (current) return;
  const component = await buildComponent();
  const files = await transpileComponent(component);
  writeGenerated(files, { inputsHash, componentSha256: sha256(component), componentBytes: component.length });
  log(`transpiled into host/src/core/generated (${Object.keys(files).length} files)`);
}

// Imported by bench/codec/build-variant.mjs for transpileComponent: build only when run.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
