// Codec throughput and ratio, every engine in one run: the component (SIMD
// and, when built, no-SIMD), zstd-napi (the baseline), lz4-napi, node:zlib
// gzip/brotli, and the wasm/JS codecs a browser user would otherwise pick.
// Prints a table of ratios against zstd-napi (stderr) and the JSON (stdout,
// also bench/results/codec.json). MB/s counts original bytes, 1 MB = 1e6 B.
//
//   node bench/codec/build-variant.mjs   # once, for the no-SIMD comparison
//   node bench/codec/run.mjs [--quick] [--size NAME]   (NAME: one row, e.g. corpus-20MB)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fixedSize, messages, traffic } from './mcp-corpus.mjs';
import { dictionaryCodecs, loadCodecs } from './codecs.mjs';
import { inBand, recordedSplit } from './recorded.mjs';

const root = new URL('../../', import.meta.url).pathname;
const QUICK = process.argv.includes('--quick');
const TRIAL_MS = QUICK ? 30 : 60;
const ROUNDS = QUICK ? 2 : 7;
// The 20 MB corpus takes seconds per pass for the slow codecs, so it gets
// fewer rounds; but its passes allocate 20 MB outputs, and two rounds left
// its figures swinging by 30% between runs, so not as few as 2.
const BIG_ROUNDS = QUICK ? 2 : 4;
const ONLY = process.argv.includes('--size') ? process.argv[process.argv.indexOf('--size') + 1] : undefined;
// A full GC before every trial: otherwise a trial pays for the garbage (20 MB
// outputs, native buffers) that the codec timed before it left behind.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc');
const recorded = recordedSplit();

/** @typedef {import('./codecs.mjs').BenchCodec} BenchCodec */
/** @typedef {{ name: string; inputs: Uint8Array[]; dictSamples?: Uint8Array[] }} Size  one row of inputs */
/**
 * One codec on one size: its speeds and ratio, or why it could not run.
 * @typedef {object} Row
 * @property {string} codec
 * @property {string} [family]
 * @property {boolean} [browser]
 * @property {string} size
 * @property {number | null} [compress_mbps]
 * @property {number | null} [decompress_mbps]
 * @property {number} [ratio]
 * @property {string} [error]
 */

// Recorded traffic (test/corpus/mcp-recorded): the held-out sessions' messages
// in the band `inBand` describes. The dictionary is trained on the train
// sessions' messages of the same band, as the synthetic 1KB row trains on its
// own size class and as zstd advises (samples like the inputs); a gateway would
// use a dictionary on small messages only. bench/codec/README.md also gives the
// gain with a dictionary trained on every train message (lower: the large ones
// crowd the samples).
/** @type {Size[]} */
const SIZES = [
  { name: '1KB', inputs: messages(1, 256, 1024), dictSamples: messages(11, 1000, 1024) },
  { name: '1KB-recorded', inputs: recorded.test.filter(inBand), dictSamples: recorded.train.filter(inBand) },
  { name: '4KB', inputs: messages(2, 128, 4096), dictSamples: messages(12, 500, 4096) },
  { name: '64KB', inputs: fixedSize(3, 16, 65536) },
  { name: 'corpus-20MB', inputs: [traffic(2026, QUICK ? 4 << 20 : 20 << 20)] },
];

/**
 * Milliseconds per pass over `inputs`: one trial runs passes for at least
 * TRIAL_MS; the best trial counts. The machine is shared, so trials of all
 * codecs are interleaved round by round (see `measureSize`) and the minimum
 * is the figure least disturbed by other work.
 * @param {(input: Uint8Array) => unknown} fn
 * @param {Uint8Array[]} inputs
 */
function trial(fn, inputs) {
  collect();
  let passes = 0;
  const start = performance.now();
  let elapsed;
  do {
    for (const x of inputs) fn(x);
    passes++;
    elapsed = performance.now() - start;
  } while (elapsed < TRIAL_MS);
  return elapsed / passes;
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function sameBytes(a, b) {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/**
 * Checks each codec's round trip, then times all of them in interleaved rounds.
 * @param {BenchCodec[]} codecs
 * @param {Size} size
 * @returns {Row[]}
 */
function measureSize(codecs, size) {
  const total = size.inputs.reduce((n, x) => n + x.length, 0);
  /** @type {{ codec: BenchCodec; frames: Uint8Array[]; packed: number; c: number; d: number }[]} */
  const entries = [];
  /** @type {Row[]} */
  const rows = [];
  for (const codec of codecs) {
    try {
      const frames = size.inputs.map((x) => codec.compress(x));
      const ok = frames.every((f, i) => sameBytes(codec.decompress(f), size.inputs[i] ?? new Uint8Array()));
      if (!ok) rows.push({ codec: codec.name, size: size.name, error: 'round trip mismatch' });
      else entries.push({ codec, frames, packed: frames.reduce((n, f) => n + f.length, 0), c: Infinity, d: Infinity });
    } catch (err) {
      // Some browser codecs have a fixed wasm heap (emscripten abort(OOM) on 20 MB): a result, not a crash.
      rows.push({ codec: codec.name, family: codec.family, browser: codec.browser, size: size.name, error: String(err instanceof Error ? err.message : err).slice(0, 120) });
    }
  }
  const rounds = total > 8 << 20 ? BIG_ROUNDS : ROUNDS;
  for (let round = 0; round < rounds; round++) {
    for (const e of entries) {
      if (!e.codec.decompressOnly) e.c = Math.min(e.c, trial((x) => e.codec.compress(x), size.inputs));
      e.d = Math.min(e.d, trial((f) => e.codec.decompress(f), e.frames));
    }
  }
  const mbps = (/** @type {number} */ ms) => (Number.isFinite(ms) ? +(total / 1e3 / ms).toFixed(1) : null);
  for (const e of entries) {
    const { codec } = e;
    rows.push({ codec: codec.name, family: codec.family, browser: codec.browser, size: size.name, compress_mbps: mbps(e.c), decompress_mbps: mbps(e.d), ratio: +(total / e.packed).toFixed(3) });
  }
  return rows;
}

/**
 * @param {number | null | undefined} a
 * @param {number | null | undefined} b
 */
const ratioTo = (a, b) => (a == null || b == null ? null : +(a / b).toFixed(3));
/**
 * @param {Row[]} rows
 * @param {string} codec
 * @param {string} size
 */
const find = (rows, codec, size) => rows.find((r) => r.codec === codec && r.size === size);
/**
 * A row the figures cannot do without.
 * @param {Row[]} rows
 * @param {string} codec
 * @param {string} size
 */
function row(rows, codec, size) {
  const found = find(rows, codec, size);
  if (!found) throw new Error(`the bench has no ${codec} row for ${size}`);
  return found;
}

/**
 * @param {Row[]} rows
 * @param {boolean} hasNoSimd
 */
function goals(rows, hasNoSimd) {
  const ours = (/** @type {string} */ s) => row(rows, 'component-zstd-3', s);
  const base64 = row(rows, 'zstd-napi-3', '64KB');
  const losses = [];
  for (const { name } of SIZES) {
    for (const alt of rows.filter((r) => r.browser && r.size === name && !r.error)) {
      for (const dir of /** @type {const} */ (['compress_mbps', 'decompress_mbps'])) {
        const theirs = alt[dir];
        const mine = ours(name)[dir];
        if (theirs != null && mine != null && mine <= theirs) losses.push(`${name} ${dir}: ${alt.codec} ${alt[dir]} >= ${ours(name)[dir]}`);
      }
    }
  }
  const dict1k = ratioTo(find(rows, 'component-zstd-3-dict', '1KB')?.ratio, ours('1KB').ratio);
  const dictRecorded = ratioTo(find(rows, 'component-zstd-3-dict', '1KB-recorded')?.ratio, ours('1KB-recorded').ratio);
  const simd = hasNoSimd ? Object.fromEntries(SIZES.map(({ name }) => [name, {
    zstd_compress: ratioTo(ours(name).compress_mbps, row(rows, 'component-zstd-3-nosimd', name).compress_mbps),
    zstd_decompress: ratioTo(ours(name).decompress_mbps, row(rows, 'component-zstd-3-nosimd', name).decompress_mbps),
    lz4_compress: ratioTo(row(rows, 'component-lz4', name).compress_mbps, row(rows, 'component-lz4-nosimd', name).compress_mbps),
    lz4_decompress: ratioTo(row(rows, 'component-lz4', name).decompress_mbps, row(rows, 'component-lz4-nosimd', name).decompress_mbps),
  }])) : 'not built: run node bench/codec/build-variant.mjs';
  return {
    zstd3_64KB_compress_vs_napi: { value: ratioTo(ours('64KB').compress_mbps, base64.compress_mbps), goal: 0.5 },
    zstd3_64KB_decompress_vs_napi: { value: ratioTo(ours('64KB').decompress_mbps, base64.decompress_mbps), goal: 0.6 },
    faster_than_every_browser_alternative: { value: losses.length === 0, losses },
    dictionary_1KB_ratio_gain: { value: dict1k, goal: 2, napi: ratioTo(find(rows, 'zstd-napi-3-dict', '1KB')?.ratio, row(rows, 'zstd-napi-3', '1KB').ratio) },
    dictionary_1KB_recorded_ratio_gain: { value: dictRecorded, goal: 2, napi: ratioTo(find(rows, 'zstd-napi-3-dict', '1KB-recorded')?.ratio, row(rows, 'zstd-napi-3', '1KB-recorded').ratio) },
    simd_speedup: simd,
  };
}

/** @param {Row[]} rows */
function table(rows) {
  const lines = ['codec                       size          comp MB/s  x napi  decomp MB/s  x napi   ratio  x napi'];
  for (const r of rows) {
    const b = row(rows, 'zstd-napi-3', r.size);
    if (r.error) {
      lines.push(`${r.codec.padEnd(27)} ${r.size.padEnd(12)} error: ${r.error}`);
      continue;
    }
    const cell = (/** @type {number | null | undefined} */ v, /** @type {number} */ w) => String(v ?? '-').padStart(w);
    lines.push(`${r.codec.padEnd(27)} ${r.size.padEnd(12)} ${cell(r.compress_mbps, 10)} ${cell(ratioTo(r.compress_mbps, b.compress_mbps), 7)} ${cell(r.decompress_mbps, 12)} ${cell(ratioTo(r.decompress_mbps, b.decompress_mbps), 7)} ${cell(r.ratio, 7)} ${cell(ratioTo(r.ratio, b.ratio), 7)}`);
  }
  return lines.join('\n');
}

const { codecs, core, hasNoSimd } = await loadCodecs();
/** @type {Row[]} */
const rows = [];
const sizes = ONLY ? SIZES.filter((s) => s.name === ONLY) : SIZES;
if (sizes.length === 0) throw new Error(`--size ${ONLY}: no such row; rows are ${SIZES.map((s) => s.name).join(', ')}`);
for (const size of sizes) {
  const extra = size.dictSamples ? dictionaryCodecs(core, size.dictSamples) : [];
  rows.push(...measureSize([...codecs, ...extra], size));
}
const report = {
  bench: 'codec',
  unit: 'MB/s of original bytes (1e6 B/s); ratio = original / compressed (frames include the mcp-edge header: 11-24 bytes, 12-16 on 1 KB messages)',
  machine: { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg().map((x) => +x.toFixed(2)) },
  sizes: Object.fromEntries(sizes.map((s) => {
    const bytes = s.inputs.reduce((n, x) => n + x.length, 0);
    return [s.name, { messages: s.inputs.length, bytes, mean_bytes: Math.round(bytes / s.inputs.length) }];
  })),
  quick: QUICK,
  method: `best of ${ROUNDS} interleaved trials of >= ${TRIAL_MS} ms per codec and direction (${BIG_ROUNDS} for the 20 MB corpus), a full GC before each trial`,
  results: rows,
  vs_zstd_napi: rows.map((r) => {
    const b = row(rows, 'zstd-napi-3', r.size);
    return { codec: r.codec, size: r.size, compress: ratioTo(r.compress_mbps, b.compress_mbps), decompress: ratioTo(r.decompress_mbps, b.decompress_mbps), ratio: ratioTo(r.ratio, b.ratio) };
  }),
  // The goals span every row: a one-row run has none, and does not replace the saved results.
  goals: ONLY ? `not computed: --size ${ONLY} ran one row` : goals(rows, hasNoSimd),
};
console.error(table(rows));
if (!ONLY) {
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/codec.json'), JSON.stringify(report, null, 2) + '\n');
}
console.log(JSON.stringify(report, null, 2));
