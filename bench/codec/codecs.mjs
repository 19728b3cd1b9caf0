// Every codec the bench runs, behind one shape: { name, family, browser,
// compress(bytes) -> bytes, decompress(bytes, originalLength) -> bytes }.
// Setup (loading wasm, training dictionaries, creating contexts) happens
// here, outside the timed loops.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync, gunzipSync, brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';

const require = createRequire(import.meta.url);
const root = new URL('../../', import.meta.url).pathname;
const LIMIT = 2 ** 32;

/** @typedef {import('../../host/src/core/index.js').EdgeCore} EdgeCore */
/** @typedef {import('../../host/src/core/index.js').Algorithm} Algorithm */
/**
 * One codec as the bench runs it.
 * @typedef {object} BenchCodec
 * @property {string} name
 * @property {string} family  zstd, lz4, gzip or brotli: the rows a ratio compares
 * @property {boolean} browser  runs in a browser
 * @property {boolean} [ours]  mcp-edge's own (the component or its Node engine)
 * @property {boolean} [baseline]  the row ratios are taken against
 * @property {boolean} [decompressOnly]  its compress side is another codec's, not timed
 * @property {(data: Uint8Array) => Uint8Array} compress
 * @property {(frame: Uint8Array) => Uint8Array} decompress
 */

/**
 * The component's core modules from `dir`, behind the npm API's facade
 * (host/dist): what a user of `loadCore` calls. `direct: false` routes every
 * codec call through jco's bindings (no direct lane, host/src/core/direct.ts).
 * @param {string} dir
 * @returns {Promise<EdgeCore | undefined>}
 */
async function loadComponent(dir, direct = true) {
  if (!existsSync(join(dir, 'edge-core.core.wasm'))) return undefined;
  /** @type {typeof import('../../host/src/index.js')} */
  const { loadCore } = await import(join(root, 'host/dist/index.js'));
  return loadCore({ compile: async (f) => WebAssembly.compile(await readFile(join(dir, f))), direct });
}

/**
 * @param {EdgeCore} core
 * @param {string} suffix  appended to each row's name
 * @param {[Algorithm, number | undefined, string][]} [kinds]  algorithm, level, label
 */
function componentCodecs(core, suffix, kinds = [['zstd', 3, 'zstd-3'], ['lz4', undefined, 'lz4']]) {
  const { codec } = core;
  /** @type {BenchCodec[]} */
  const out = [];
  for (const [algorithm, level, label] of kinds) {
    out.push({
      name: `component-${label}${suffix}`, family: algorithm, browser: false, ours: true,
      compress: (d) => codec.pack(d, { algorithm, level }),
      decompress: (f) => codec.unpack(f, LIMIT),
    });
  }
  return out;
}

/**
 * Codecs with a zstd dictionary trained on `samples` (for the small-message sizes).
 * @param {EdgeCore} core
 * @param {Uint8Array[]} samples
 * @returns {BenchCodec[]}
 */
export function dictionaryCodecs(core, samples) {
  const dict = core.codec.trainDictionary(samples, 16 * 1024);
  const bytes = dict.toBytes();
  /** @type {typeof import('zstd-napi')} */
  const { Compressor, Decompressor } = require('zstd-napi');
  const cmp = new Compressor();
  cmp.setParameters({ compressionLevel: 3 });
  cmp.loadDictionary(bytes);
  const dec = new Decompressor();
  dec.loadDictionary(bytes);
  return [
    { name: 'component-zstd-3-dict', family: 'zstd', browser: false, ours: true, compress: (d) => dict.pack(d, 3), decompress: (f) => dict.unpack(f, LIMIT) },
    { name: 'zstd-napi-3-dict', family: 'zstd', browser: false, compress: (d) => cmp.compress(d), decompress: (f) => dec.decompress(f) },
  ];
}

/** @returns {BenchCodec[]} */
function nativeCodecs() {
  /** @type {typeof import('zstd-napi')} */
  const { Compressor, Decompressor } = require('zstd-napi');
  const cmp = new Compressor();
  cmp.setParameters({ compressionLevel: 3 });
  const dec = new Decompressor();
  /** @type {typeof import('lz4-napi')} */
  const lz4 = require('lz4-napi');
  return [
    { name: 'zstd-napi-3', family: 'zstd', browser: false, baseline: true, compress: (d) => cmp.compress(d), decompress: (f) => dec.decompress(f) },
    { name: 'lz4-napi', family: 'lz4', browser: false, compress: (d) => lz4.compressFrameSync(Buffer.from(d.buffer, d.byteOffset, d.length)), decompress: (f) => lz4.decompressFrameSync(/** @type {Buffer} */ (f)) }, // frames are compressFrameSync's Buffers
    { name: 'node-gzip-6', family: 'gzip', browser: false, compress: (d) => gzipSync(d, { level: 6 }), decompress: (f) => gunzipSync(f) },
    {
      name: 'node-brotli-5', family: 'brotli', browser: false,
      compress: (d) => brotliCompressSync(d, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
      decompress: (f) => brotliDecompressSync(f),
    },
  ];
}

/** @returns {Promise<BenchCodec[]>} */
async function edgeEngineCodecs() {
  const dist = join(root, 'host/dist/codec/index.js');
  if (!existsSync(dist)) return [];
  /** @type {typeof import('../../host/src/codec/index.js')} */
  const { createCodec } = await import(dist);
  const codec = await createCodec({ engine: 'native' });
  const o = { maxOutput: 2 ** 32 };
  return [{ name: 'edge-native-zstd-3', family: 'zstd', browser: false, ours: true, compress: (d) => codec.pack(d, { algorithm: 'zstd', level: 3 }), decompress: (f) => codec.unpack(f, o) }];
}

/**
 * zstd-codec (emscripten) binds console.log while it loads and prints "OOM"
 * with it when the 20 MB corpus outgrows its fixed heap; loading it with
 * console.log pointed at stderr keeps stdout for the bench's JSON.
 */
async function loadZstdCodec() {
  const log = console.log;
  console.log = (...args) => console.error(...args);
  try {
    /** @type {typeof import('zstd-codec')} */
    const { ZstdCodec } = require('zstd-codec');
    /** @type {Parameters<Parameters<typeof ZstdCodec.run>[0]>[0]} */
    const zstd = await new Promise((resolve) => ZstdCodec.run(resolve));
    return zstd;
  } finally {
    console.log = log;
  }
}

/** @returns {Promise<BenchCodec[]>} */
async function browserCodecs() {
  const zc = await loadZstdCodec();
  const simple = new zc.Simple();
  /** @type {typeof import('@bokuweb/zstd-wasm')} */
  const bokuweb = require('@bokuweb/zstd-wasm');
  await bokuweb.init();
  /** @type {typeof import('fzstd')} */
  const fzstd = require('fzstd');
  /** @type {typeof import('lz4js')} */
  const lz4js = require('lz4js');
  /** @type {typeof import('fflate')} */
  const fflate = require('fflate');
  /** @type {typeof import('zstd-napi')} */
  const napi = require('zstd-napi');
  return [
    { name: 'zstd-codec-3', family: 'zstd', browser: true, compress: (d) => simple.compress(d, 3), decompress: (f) => simple.decompress(f) },
    { name: 'bokuweb-zstd-wasm-3', family: 'zstd', browser: true, compress: (d) => bokuweb.compress(d, 3), decompress: (f) => bokuweb.decompress(f) },
    // fzstd only decompresses: it reads zstd-napi's level-3 frames (compression is not timed).
    { name: 'fzstd (decompress only)', family: 'zstd', browser: true, decompressOnly: true, compress: (d) => napi.compress(d, { compressionLevel: 3 }), decompress: (f) => fzstd.decompress(f) },
    { name: 'lz4js', family: 'lz4', browser: true, compress: (d) => lz4js.compress(d), decompress: (f) => lz4js.decompress(f) },
    { name: 'fflate-gzip-6', family: 'gzip', browser: true, compress: (d) => fflate.gzipSync(d, { level: 6 }), decompress: (f) => fflate.gunzipSync(f) },
  ];
}

/** All codecs, plus the loaded SIMD component (dictionary codecs need it). */
export async function loadCodecs() {
  const shipped = join(root, 'host/src/core/generated');
  const simd = await loadComponent(shipped);
  if (!simd) throw new Error('No built component: run `node scripts/build-core.mjs` first.');
  const jcoLane = await loadComponent(shipped, false);
  const nosimd = await loadComponent(join(root, 'target/bench/nosimd'));
  /** @type {BenchCodec[]} */
  const codecs = [
    ...nativeCodecs(),
    ...componentCodecs(simd, ''),
    ...(jcoLane ? componentCodecs(jcoLane, '-jco-lane', [['zstd', 3, 'zstd-3']]) : []),
    ...(nosimd ? componentCodecs(nosimd, '-nosimd') : []),
    ...(await edgeEngineCodecs()),
    ...(await browserCodecs()),
  ];
  return { codecs, core: simd, hasNoSimd: Boolean(nosimd) };
}
