// The embedding API's tokenizer functions: exact token counts without running
// a gateway. One core and one set of loaded vocabularies per process.
//
//   import { countTokens } from 'mcp-edge';
//   await countTokens('Hello, world', { tokenizer: 'o200k_base' });   // 3
import { loadCore, type EdgeCore } from '../core/index.js';
import type { EncodeOptions, Tokenizer } from '../core/tokenizer.js';
import { loadTokenizerJson, Vocabularies } from './vocabularies.js';

let shared: Promise<{ core: EdgeCore; vocabularies: Vocabularies }> | undefined;

function state() {
  shared ??= loadCore().then((core) => ({ core, vocabularies: new Vocabularies(core) }));
  return shared;
}

export interface TokenizerChoice {
  /** A tiktoken encoding (cl100k_base, o200k_base, ...); cl100k_base by default. */
  tokenizer?: string;
}

/** A loaded tokenizer: by encoding name, or from a tokenizer.json file path. */
export async function getTokenizer(choice: string | { tokenizerJson: string } = 'cl100k_base'): Promise<Tokenizer> {
  const { core, vocabularies } = await state();
  return typeof choice === 'string' ? vocabularies.get(choice) : loadTokenizerJson(core, choice.tokenizerJson);
}

/** The exact number of tokens of `text` for the chosen vocabulary. */
export async function countTokens(text: string, options: TokenizerChoice & EncodeOptions = {}): Promise<number> {
  const tok = await getTokenizer(options.tokenizer ?? 'cl100k_base');
  return tok.count(text, options);
}
