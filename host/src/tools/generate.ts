// `generate`: a prompt answered by the gateway's model router (the local model
// first, the cloud when it must), for MCP clients without a model of their own.
// Off unless [models] generate_tool = true: a gateway's compute is not offered
// to every client by default.
import { z } from 'zod';
import { ModelError } from '../models/engine.js';
import type { CompletionAnswer, ModelService } from '../models/service.js';
import type { ChatMessage } from '../models/engine.js';
import { defineTool } from './registry.js';

const input = z.object({
  prompt: z.string().min(1).max(1 << 20).describe('What to answer or continue.'),
  system: z.string().max(1 << 20).optional().describe('A system prompt: how to answer.'),
  max_tokens: z.number().int().min(1).optional().describe('The most tokens to generate; [models] max_tokens caps it and is the default.'),
});

const output = z.object({
  text: z.string(),
  /** "local" or "cloud": which engine served the answer, its model, and why the router chose it. */
  engine: z.string(),
  model: z.string(),
  reason: z.string(),
  finish_reason: z.string(),
});

export type GenerateArgs = z.infer<typeof input>;

/** The chat a generate call asks about. */
export function generateMessages({ prompt, system }: Pick<GenerateArgs, 'prompt' | 'system'>): ChatMessage[] {
  return [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: prompt }];
}

/** A generate call's result (also the result of one queued as a task, models/offline.ts). */
export function generateResult(answer: CompletionAnswer) {
  const result = { text: answer.text, engine: answer.engine, model: answer.model, reason: answer.reason, finish_reason: answer.finishReason };
  // The JSON as text too, as MCP asks of a tool with structured results (and as count_tokens does).
  return { content: [{ type: 'text' as const, text: JSON.stringify(result) }], structuredContent: result };
}

export function generateTool(models: ModelService) {
  return defineTool({
    name: 'generate',
    title: 'Generate text',
    description:
      "Answers a prompt with the gateway's models: its local model first, its cloud model when the local one cannot " +
      '(the prompt does not fit, it is too slow, it failed). The result says which engine and model served it.',
    input,
    output,
    // Greedy by default, but a fallback to another engine changes the answer: not idempotent.
    annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: models.cloud !== undefined },
    // As a task it waits in the offline queue and is answered when an engine can (models/offline.ts).
    ...(models.cloud !== undefined ? { execution: { taskSupport: 'optional' as const } } : {}),
    handler: async ({ prompt, system, max_tokens }, { signal }) => {
      try {
        const answer = await models.generate({ messages: generateMessages({ prompt, system }), ...(max_tokens !== undefined ? { maxTokens: max_tokens } : {}), signal });
        return generateResult(answer);
      } catch (err) {
        // No engine, or every engine failed: the caller reads why (the code is the model error's).
        const asTask = err instanceof ModelError && err.code === 'cloud_offline' ? ' Call generate as a task (params.task) to have it answered when the link returns.' : '';
        if (err instanceof ModelError && !signal.aborted) return { isError: true, content: [{ type: 'text', text: `${err.code}: ${err.message}${asTask}` }] };
        throw err;
      }
    },
  });
}
