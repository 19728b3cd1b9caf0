// The local model's prompt token count in the Rust core instead of llama.cpp.
// The router needs the exact count before every decision; llama.cpp's tokenizer
// takes about 1 ms for a 4 KB prompt (its smollm pre-tokenizer runs a general
// regex engine), the core's BPE about 0.05 ms. The core loads the vocabulary
// the GGUF itself carries (tokens, merges, token types), so the count is the
// model's own, and only for the tokenizer families whose rules the core
// implements exactly; any other model keeps llama.cpp's count.
import type { Tokenizer, TokenizerFactory } from '../core/index.js';

/** The GGUF's `tokenizer.ggml.*` metadata, as node-llama-cpp reads it. */
export interface GgufTokenizerMetadata {
  model?: string;
  pre?: string;
  tokens?: readonly string[];
  merges?: readonly string[];
  token_type?: readonly number[];
  add_space_prefix?: boolean;
}

/** llama.cpp's token types (llama_token_type). */
const NORMAL = 1;
const CONTROL = 3;

/**
 * llama.cpp pre-tokenizer names and the Hugging Face pre-tokenizer with the
 * same rules. Only the ones checked against llama.cpp by test/models-count.test.ts.
 */
const PRE_TOKENIZERS: Readonly<Record<string, object>> = {
  // llama.cpp: "\p{N}", then GPT-2's regex. Hugging Face: Digits then ByteLevel.
  smollm: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, use_regex: true }] },
};

/** Why the core cannot count for this model, or undefined when it can. */
export function unsupportedReason(meta: GgufTokenizerMetadata): string | undefined {
  if (meta.model !== 'gpt2') return `tokenizer model ${meta.model ?? '?'} (the core counts byte-level BPE only)`;
  if (meta.add_space_prefix) return 'add_space_prefix';
  if (!meta.pre || !Object.hasOwn(PRE_TOKENIZERS, meta.pre)) return `pre-tokenizer ${meta.pre ?? '?'}`;
  if (!meta.tokens || !meta.merges || !meta.token_type) return 'no tokens, merges or token types in the GGUF';
  // llama.cpp splits user-defined tokens out of plain text too; the core only does that for special ones.
  const other = meta.token_type.find((t) => t !== NORMAL && t !== CONTROL);
  if (other !== undefined) return `token type ${other}`;
  return undefined;
}

/** GPT-2's byte-level alphabet: the printable char that stands for each byte in the vocabulary. */
function byteChars(): string[] {
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b += 1) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    chars.push(String.fromCodePoint(printable ? b : 256 + shifted++));
  }
  return chars;
}

/** The code points whose UTF-8 starts with lead byte `b` (none for bytes UTF-8 never uses). */
function codePointsLedBy(b: number): [number, number] | undefined {
  if (b < 0x80) return [b, b];
  if (b >= 0xc2 && b <= 0xdf) return [(b & 0x1f) << 6, ((b & 0x1f) << 6) + 0x3f];
  if (b >= 0xe0 && b <= 0xef) return [Math.max((b & 0x0f) << 12, 0x800), ((b & 0x0f) << 12) + 0xfff];
  if (b >= 0xf0 && b <= 0xf4) return [Math.max((b & 0x07) << 18, 0x10000), ((b & 0x07) << 18) + 0x3ffff];
  return undefined;
}

/**
 * Some vocabularies lack a few bytes (SmolLM2: 0x04, 0x06, 0x13, 0x14, 0x16,
 * 0x1d, 0xf1, 0xf2 and bytes UTF-8 never uses); what llama.cpp does with such
 * a byte is not the core's rule, so a text holding one is counted by llama.cpp.
 * The chars whose UTF-8 holds a missing byte, or a reason when that is not a
 * set of whole chars (a missing continuation byte).
 */
export function missingByteChars(meta: GgufTokenizerMetadata): { bytes: number[]; pattern?: RegExp } | string {
  const known = new Set(meta.tokens ?? []);
  const bytes = byteChars().flatMap((c, b) => (known.has(c) ? [] : [b]));
  if (bytes.some((b) => b >= 0x80 && b <= 0xbf)) return 'a UTF-8 continuation byte in its vocabulary';
  const hex = (n: number): string => `\\u{${n.toString(16)}}`;
  const ranges = bytes.flatMap((b) => {
    const r = codePointsLedBy(b);
    return r ? [r[0] === r[1] ? hex(r[0]) : `${hex(r[0])}-${hex(r[1])}`] : [];
  });
  return ranges.length ? { bytes, pattern: new RegExp(`[${ranges.join('')}]`, 'u') } : { bytes };
}

/** The GGUF vocabulary as a Hugging Face tokenizer.json, the form the core loads. */
export function tokenizerJsonOf(meta: GgufTokenizerMetadata, missingBytes: readonly number[] = []): Uint8Array {
  const tokens = meta.tokens ?? [];
  const types = meta.token_type ?? [];
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => (vocab[token] = id));
  // The core wants a token per byte; ids past the vocabulary stand in for the
  // missing ones, never reached because such texts go to llama.cpp (missingByteChars).
  const chars = byteChars();
  missingBytes.forEach((b, i) => (vocab[chars[b] ?? ''] = tokens.length + i));
  const added = tokens.flatMap((content, id) => (types[id] === CONTROL ? [{ id, content, special: true }] : []));
  const json = {
    model: { type: 'BPE', vocab, merges: meta.merges ?? [] },
    pre_tokenizer: PRE_TOKENIZERS[meta.pre ?? ''],
    decoder: { type: 'ByteLevel' },
    added_tokens: added,
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

/** The core's counter for a model: its tokenizer, and the chars it must leave to llama.cpp. */
export interface CoreCounter {
  tokenizer: Tokenizer;
  /** A text matching this is counted by llama.cpp. */
  leaveToLlama?: RegExp;
}

/** A core tokenizer for the GGUF's vocabulary, or the reason there is none. */
export function coreTokenizerOf(factory: TokenizerFactory, meta: GgufTokenizerMetadata): CoreCounter | string {
  const reason = unsupportedReason(meta);
  if (reason) return reason;
  const missing = missingByteChars(meta);
  if (typeof missing === 'string') return missing;
  try {
    const tokenizer = factory.fromTokenizerJson(tokenizerJsonOf(meta, missing.bytes));
    return { tokenizer, ...(missing.pattern ? { leaveToLlama: missing.pattern } : {}) };
  } catch (err) {
    return (err as Error).message;
  }
}

/** One piece of a rendered chat template (node-llama-cpp's LlamaText values). */
export type TemplatePiece = string | { kind: 'special-text'; text: string } | { kind: 'builtin'; tokens: number };

/**
 * Tokens of a rendered template, counted as node-llama-cpp tokenizes a
 * LlamaText: adjacent plain strings joined and tokenized as ordinary text,
 * special-token text with special tokens recognised, builtin tokens as they are.
 */
export function countTemplate(tokenizer: Tokenizer, pieces: readonly TemplatePiece[]): number {
  // (One crossing per run of plain text: a ChatML message is three pieces.)
  let plain = '';
  let total = 0;
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      plain += piece;
      continue;
    }
    if (plain) total += tokenizer.count(plain);
    plain = '';
    total += piece.kind === 'builtin' ? piece.tokens : tokenizer.count(piece.text, { allowSpecial: true });
  }
  return plain ? total + tokenizer.count(plain) : total;
}
