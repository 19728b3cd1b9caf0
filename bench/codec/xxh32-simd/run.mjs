// Is xxh32 (the frame checksum) a kernel where wasm SIMD pays? Builds the
// crate here for wasm32 with simd128 (same toolchain route as the component),
// checks both versions give xxhash-rust's hash on every length 0..300 and on
// large inputs, then times them on 1 KB, 64 KB and 1 MB. Prints JSON.
//
//   node bench/codec/xxh32-simd/run.mjs
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
process.env.MCP_EDGE_SIMD = '1';
const { root, run } = await import('../../../scripts/lib.mjs');
const { findToolchain, TARGET } = await import('../../../scripts/toolchain.mjs');
const route = findToolchain();
const targetDir = join(root, 'target/wasm');
run(route.cargo, ['build', '--release', '--target', TARGET, '--manifest-path', join(here, 'Cargo.toml'), '--target-dir', targetDir, ...route.args], { env: { ...process.env, ...route.env } });
const wasm = readFileSync(join(targetDir, TARGET, 'release/xxh32_simd_bench.wasm'));
/**
 * What src/lib.rs exports: a 1 MB input buffer and the two hashes of its first `len` bytes.
 * @typedef {{ memory: WebAssembly.Memory; buffer(): number; scalar(len: number): number; simd(len: number): number }} XxhExports
 */
const x = /** @type {XxhExports} */ ((await WebAssembly.instantiate(wasm)).instance.exports);
const bytes = new Uint8Array(x.memory.buffer, x.buffer(), 1 << 20);
for (let i = 0; i < bytes.length; i++) bytes[i] = Math.imul(i, 2654435761) >>> 13;

for (const len of [...Array(300).keys(), 4096, 65535, 65536, 1 << 20]) {
  if (x.scalar(len) !== x.simd(len)) throw new Error(`simd xxh32 differs from xxhash-rust at length ${len}`);
}
/**
 * MB/s of `fn` on `len` bytes: the best of 7 rounds of about 8 MB each.
 * @param {(len: number) => number} fn
 * @param {number} len
 */
const best = (fn, len) => {
  let min = Infinity;
  for (let round = 0; round < 7; round++) {
    const n = Math.max(1, (8 << 20) / len);
    const start = performance.now();
    for (let i = 0; i < n; i++) fn(len);
    min = Math.min(min, (performance.now() - start) / n);
  }
  return +(len / 1e3 / min).toFixed(0);
};
const results = [1024, 65536, 1 << 20].map((len) => {
  const scalar = best(x.scalar, len);
  const simd = best(x.simd, len);
  return { bytes: len, scalar_mbps: scalar, simd_mbps: simd, simd_vs_scalar: +(simd / scalar).toFixed(3) };
});
console.log(JSON.stringify({ bench: 'xxh32-simd', unit: 'MB/s (1e6 B/s)', results }, null, 2));
