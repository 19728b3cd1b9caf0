// Builds the component without simd128 (Rust and C alike) into
// target/bench/nosimd/, so bench/codec can run the same workload on both
// builds and show what SIMD buys. The shipped build is always the SIMD one
// (scripts/build-core.mjs); this one exists only for the comparison.
//
//   node bench/codec/build-variant.mjs
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

process.env.MCP_EDGE_SIMD = '0';
const { root, run, log } = await import('../../scripts/lib.mjs');
const { findToolchain, cargoBuild, TARGET } = await import('../../scripts/toolchain.mjs');

const OUT = join(root, 'target/bench/nosimd');
const route = findToolchain();
const build = cargoBuild(route, join(root, 'target/wasm-nosimd'));
run(build.cmd, build.args, { env: build.env });
const core = readFileSync(join(root, 'target/wasm-nosimd', TARGET, 'release/edge_core_component.wasm'));

// Same wasm-opt pass as the shipped build, minus the SIMD feature.
const { default: binaryen } = await import('binaryen');
const module = binaryen.readBinary(core);
const F = binaryen.Features;
module.setFeatures(F.MVP | F.BulkMemory | F.BulkMemoryOpt | F.CallIndirectOverlong | F.NontrappingFPToInt |
  F.SignExt | F.MutableGlobals | F.Multivalue | F.ReferenceTypes);
binaryen.setOptimizeLevel(3);
binaryen.setShrinkLevel(0);
module.optimize();
const optimized = module.emitBinary();
module.dispose();

const { componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
const component = await componentNew(optimized);
// The shipped build's transpile step too (with its JCO_DEBUG rewrite), so the
// two builds differ only in SIMD and not in per-call binding cost.
const { transpileComponent } = await import('../../scripts/build-core.mjs');
const files = await transpileComponent(component);
for (const [name, bytes] of Object.entries(files)) {
  mkdirSync(join(OUT, name, '..'), { recursive: true });
  writeFileSync(join(OUT, name), bytes);
}
log(`no-SIMD component: ${component.length} bytes in ${OUT}`);
