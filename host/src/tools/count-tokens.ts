// `count_tokens`: exact token counts from the Rust core, for the vocabularies of
// the cloud models (tiktoken encodings) and the tokenizer.json files configured
// in [tokenizers].
import { z } from 'zod';
import { CoreError } from '../core/index.js';
import type { Vocabularies } from '../tokenizer/vocabularies.js';
import { defineTool } from './registry.js';

/** The arguments, naming the vocabularies this gateway knows (configured tokenizer.json files included). */
function inputOf(vocabularies: Vocabularies) {
  return z.object({
    text: z.string().max(1 << 26).describe('The text to count (up to 64 MiB).'),
    tokenizer: z
      .string()
      .default('cl100k_base')
      .describe(
        'Vocabulary: cl100k_base (GPT-4, GPT-3.5), o200k_base (GPT-4o and later), p50k_base, r50k_base, gpt2, ' +
          `or a tokenizer.json configured in [tokenizers]. Known here: ${vocabularies.names().join(', ')}.`,
      ),
    allow_special: z.boolean().default(false).describe('Whether special-token text such as <|endoftext|> counts as one special token.'),
    max_tokens: z.number().int().min(0).optional().describe('A budget (a context window): the result then says whether the text fits.'),
  });
}

const output = z.object({
  tokenizer: z.string(),
  tokens: z.number(),
  characters: z.number(),
  bytes: z.number(),
  fits: z.boolean().optional(),
});

export function countTokensTool(vocabularies: Vocabularies) {
  return defineTool({
    name: 'count_tokens',
    title: 'Count tokens',
    description:
      'Counts the tokens of a text exactly as a model tokenizes it (byte-level BPE in the Rust core), ' +
      'for deciding whether a prompt fits a context window or what a cloud call will cost.',
    input: inputOf(vocabularies),
    output,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    handler: async ({ text, tokenizer, allow_special, max_tokens }) => {
      let tok;
      try {
        tok = await vocabularies.get(tokenizer);
      } catch (err) {
        return { isError: true, content: [{ type: 'text', text: (err as Error).message }] };
      }
      try {
        const tokens = tok.count(text, { allowSpecial: allow_special });
        const result = {
          tokenizer,
          tokens,
          characters: [...text].length,
          bytes: Buffer.byteLength(text),
          ...(max_tokens === undefined ? {} : { fits: tokens <= max_tokens }),
        };
        return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
      } catch (err) {
        if (err instanceof CoreError) return { isError: true, content: [{ type: 'text', text: err.message }] };
        throw err;
      }
    },
  });
}
