// Tools the gateway offers itself, whose work runs in the Rust core.
import { z } from 'zod';
import type { EdgeCore } from '../core/index.js';
import { CoreError } from '../core/index.js';
import { defineTool, type ToolRegistry } from './registry.js';
import { countTokensTool } from './count-tokens.js';
import type { Vocabularies } from '../tokenizer/vocabularies.js';

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
function compressTool(core: EdgeCore) {
  return defineTool({
    name: 'edge_compress',
    title: 'Compress with the edge core',
    description:
      'Packs text into an mcp-edge frame with the Rust core and reports the original and packed sizes, ' +
      'the xxh32 checksum and the frame itself (base64).',
    input: compressInput,
    output: compressOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    handler: ({ text, algorithm, level }) => {
      const data = new TextEncoder().encode(text);
      try {
        const frame = core.codec.pack(data, { algorithm, ...(level === undefined ? {} : { level }) });
        const result = {
          algorithm,
          originalBytes: data.length,
          frameBytes: frame.length,
          ratio: frame.length === 0 ? 0 : Number((data.length / frame.length).toFixed(4)),
          checksum: core.codec.checksum(data).toString(16).padStart(8, '0'),
          frameBase64: Buffer.from(frame).toString('base64'),
        };
        return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
      } catch (err) {
        if (err instanceof CoreError) return { isError: true, content: [{ type: 'text', text: err.message }] };
        throw err;
      }
    },
  });
}

/** Registers the built-in tools that are always on. */
export function registerBuiltinTools(registry: ToolRegistry, core: EdgeCore, vocabularies: Vocabularies): void {
  registry.register(compressTool(core));
  registry.register(countTokensTool(vocabularies));
}
