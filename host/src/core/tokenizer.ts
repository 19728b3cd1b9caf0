// Typed facade over the component's `tokenizer` interface: exact BPE token
// ids and counts, with vocabularies the host loads (see host/src/tokenizer/).
import type { Root } from './generated/edge-core.js';
import { callCore } from './errors.js';

type TokenizerExports = Root['tokenizer'];
type RawTokenizer = TokenizerExports['Tokenizer']['prototype'];

export interface SpecialToken {
  /** Its text, for example "<|endoftext|>". */
  text: string;
  id: number;
}

export interface EncodeOptions {
  /** Special-token text in the input becomes the special token (default: it is ordinary text). */
  allowSpecial?: boolean;
}

export interface Truncation {
  /** The kept text, cut on a token boundary that is also a char boundary. */
  text: string;
  /** Tokens the kept text encodes to; never more than the budget. */
  tokens: number;
  /** Whether anything was cut. */
  truncated: boolean;
}

/** A loaded vocabulary. Methods throw CoreError (codes as in wit/tokenizer.wit). */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: readonly SpecialToken[];
  encode(text: string, options?: EncodeOptions): Uint32Array;
  /** Encodes bytes that must be UTF-8; invalid UTF-8 throws `invalid-utf8`. */
  encodeBytes(bytes: Uint8Array, options?: EncodeOptions): Uint32Array;
  count(text: string, options?: EncodeOptions): number;
  countMany(texts: readonly string[], options?: EncodeOptions): number[];
  decode(ids: Uint32Array | readonly number[]): Uint8Array;
  /** Decodes to text; bytes that are not UTF-8 (a cut sequence) become U+FFFD. */
  decodeText(ids: Uint32Array | readonly number[]): string;
  truncate(text: string, maxTokens: number, keep?: 'first' | 'last', options?: EncodeOptions): Truncation;
  /** Frees the vocabulary inside the component. */
  dispose(): void;
}

export interface TokenizerFactory {
  /** tiktoken ranks (either rank-file spelling), the split regex and the special tokens. */
  fromTiktoken(ranks: Uint8Array, pattern: string, specialTokens: readonly SpecialToken[]): Tokenizer;
  /** An encoder file of the `tiktoken` npm package (encoders/<name>.json), its bytes as read. */
  fromTiktokenJson(file: Uint8Array): Tokenizer;
  /** A Hugging Face tokenizer.json BPE model. */
  fromTokenizerJson(json: Uint8Array): Tokenizer;
}

function describe(error: { tag: string; val?: unknown }): string {
  switch (error.tag) {
    case 'invalid-vocabulary':
      return `The vocabulary file is malformed: ${String(error.val)}. Check the file or reinstall the package that ships it.`;
    case 'unsupported-model':
      return `This tokenizer needs a feature the core does not implement: ${String(error.val)}.`;
    case 'unknown-token-id':
      return `Token id ${String(error.val)} is not in this vocabulary.`;
    case 'invalid-utf8':
      return `The input is not UTF-8 (first bad byte at offset ${String(error.val)}). Pass a string or valid UTF-8.`;
    case 'piece-too-long':
      return `The text holds a ${String(error.val)}-byte run with no split point, longer than the core merges at once. Split the text first.`;
    default:
      return `tokenizer error: ${error.tag}`;
  }
}

const utf8 = new TextDecoder('utf-8');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
// jco attaches a resource's destructor under Symbol.dispose (or its registry twin).
const disposeSymbol: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('dispose');

function strictText(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function wrap(raw: RawTokenizer): Tokenizer {
  const nfc = raw.needsNfc();
  // Models that ask for NFC get it here: the core carries no normalization tables.
  const norm = nfc ? (t: string) => t.normalize('NFC') : (t: string) => t;
  const special = (o?: EncodeOptions) => o?.allowSpecial ?? false;
  const ids = (x: Uint32Array | readonly number[]) => (x instanceof Uint32Array ? x : Uint32Array.from(x));
  const decode = (x: Uint32Array | readonly number[]) => callCore(() => raw.decode(ids(x)), describe);
  return {
    vocabSize: raw.vocabSize(),
    specialTokens: raw.specialTokens(),
    encode: (text, o) => callCore(() => raw.encode(norm(text), special(o)), describe),
    encodeBytes: (bytes, o) => {
      const text = nfc ? strictText(bytes) : undefined;
      // Invalid UTF-8 (or a model without NFC): the core checks and reports the offset.
      if (text === undefined) return callCore(() => raw.encodeBytes(bytes, special(o)), describe);
      return callCore(() => raw.encode(norm(text), special(o)), describe);
    },
    count: (text, o) => Number(callCore(() => raw.count(norm(text), special(o)), describe)),
    countMany: (texts, o) => Array.from(callCore(() => raw.countMany(texts.map(norm), special(o)), describe), Number),
    decode,
    decodeText: (x) => utf8.decode(decode(x)),
    truncate: (text, maxTokens, keep = 'first', o) => {
      const t = callCore(() => raw.truncate(norm(text), BigInt(maxTokens), keep, special(o)), describe);
      return { text: t.text, tokens: Number(t.tokens), truncated: t.truncated };
    },
    dispose: () => (raw as unknown as Record<symbol, (() => void) | undefined>)[disposeSymbol]?.(),
  };
}

export function wrapTokenizer(exports: TokenizerExports): TokenizerFactory {
  return {
    fromTiktoken: (ranks, pattern, specials) =>
      wrap(callCore(() => exports.Tokenizer.fromTiktoken(ranks, pattern, specials.map((s) => ({ text: s.text, id: s.id }))), describe)),
    fromTiktokenJson: (file) => wrap(callCore(() => exports.Tokenizer.fromTiktokenJson(file), describe)),
    fromTokenizerJson: (json) => wrap(callCore(() => exports.Tokenizer.fromTokenizerJson(json), describe)),
  };
}
