// Tools the gateway offers itself, whose work runs in the Rust core.
import { z } from 'zod';
import type { EdgeCore } from '../core/index.js';
import { CoreError } from '../core/index.js';
import { defineTool, type ToolRegistry } from './registry.js';
import { countTokensTool } from './count-tokens.js';
import type { Vocabularies } from '../tokenizer/vocabularies.js';
import { runJob, type Packed, type PackJob } from '../offload/jobs.js';
import { OFFLOAD_THRESHOLD, OffloadError, type CoreWorkers } from '../offload/pool.js';

const compressInput = z.object({
  text: z.string().max(1 << 24).describe('The text to pack (UTF-8).'),
  algorithm: z.enum(['stored', 'zstd', 'lz4']).default('stored').describe('How to encode the payload.'),
  level: z.number().int().min(-7).max(22).optional().describe('Compression level; the algorithm default when absent.'),
});

const compressOutput = z.object({
  algorithm: z.string(),
  originalBytes: z.number(),
  frameBytes: z.number(),
  ratio: z.number(),
  checksum: z.string(),
  frameBase64: z.string(),
});

/** `edge_compress`: packs text into an mcp-edge frame in the core and reports sizes. */
function compressTool(core: EdgeCore, vocabularies: Vocabularies, workers: CoreWorkers | undefined) {
  return defineTool({
    name: 'edge_compress',
    title: 'Compress with the edge core',
    description:
      'Packs text into an mcp-edge frame with the Rust core and reports the original and packed sizes, ' +
      'the xxh32 checksum and the frame itself (base64).',
    input: compressInput,
    output: compressOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    handler: async ({ text, algorithm, level }, { signal }) => {
      const data = new TextEncoder().encode(text);
      const job: PackJob = { op: 'pack', data, algorithm, ...(level === undefined ? {} : { level }) };
      try {
        // A big payload is packed in a core worker, so other requests go on meanwhile.
        const { frame, checksum } = workers && data.length >= OFFLOAD_THRESHOLD ? await workers.run(job, signal) : ((await runJob(job, core, vocabularies)) as Packed);
        const result = {
          algorithm,
          originalBytes: data.length,
          frameBytes: frame.length,
          ratio: frame.length === 0 ? 0 : Number((data.length / frame.length).toFixed(4)),
          checksum: checksum.toString(16).padStart(8, '0'),
          frameBase64: Buffer.from(frame).toString('base64'),
        };
        return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
      } catch (err) {
        if (err instanceof CoreError || err instanceof OffloadError) return { isError: true, content: [{ type: 'text', text: err.message }] };
        throw err;
      }
    },
  });
}

/** Registers the built-in tools that are always on; with `workers`, their big requests run off the event loop. */
export function registerBuiltinTools(registry: ToolRegistry, core: EdgeCore, vocabularies: Vocabularies, workers?: CoreWorkers): void {
  registry.register(compressTool(core, vocabularies, workers));
  registry.register(countTokensTool(core, vocabularies, workers));
}
