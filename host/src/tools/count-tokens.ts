// `count_tokens`: exact token counts from the Rust core, for the vocabularies of
// the cloud models (tiktoken encodings) and the tokenizer.json files configured
// in [tokenizers].
import { z } from 'zod';
import type { EdgeCore } from '../core/index.js';
import { runJob, type CountJob, type TextCount } from '../offload/jobs.js';
import { OFFLOAD_THRESHOLD, type CoreWorkers } from '../offload/pool.js';
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

/** Counts on the event loop, or (a big text, workers given) in a core worker so other requests go on meanwhile. */
async function countText(job: CountJob, core: EdgeCore, vocabularies: Vocabularies, workers: CoreWorkers | undefined, signal: AbortSignal): Promise<TextCount> {
  if (workers && job.text.length >= OFFLOAD_THRESHOLD) return workers.run(job, signal);
  return (await runJob(job, core, vocabularies)) as TextCount;
}

export function countTokensTool(core: EdgeCore, vocabularies: Vocabularies, workers?: CoreWorkers) {
  return defineTool({
    name: 'count_tokens',
    title: 'Count tokens',
    description:
      'Counts the tokens of a text exactly as a model tokenizes it (byte-level BPE in the Rust core), ' +
      'for deciding whether a prompt fits a context window or what a cloud call will cost.',
    input: inputOf(vocabularies),
    output,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    handler: async ({ text, tokenizer, allow_special, max_tokens }, { signal }) => {
      if (!vocabularies.names().includes(tokenizer)) {
        return { isError: true, content: [{ type: 'text', text: `unknown tokenizer "${tokenizer}"; known: ${vocabularies.names().join(', ')}` }] };
      }
      try {
        const counted = await countText({ op: 'count', tokenizer, text, allowSpecial: allow_special }, core, vocabularies, workers, signal);
        const result = {
          tokenizer,
          ...counted,
          ...(max_tokens === undefined ? {} : { fits: counted.tokens <= max_tokens }),
        };
        return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
      } catch (err) {
        // A vocabulary that does not load, a text the core refuses, a worker that died: the caller reads why.
        if (signal.aborted) throw err;
        return { isError: true, content: [{ type: 'text', text: (err as Error).message }] };
      }
    },
  });
}
