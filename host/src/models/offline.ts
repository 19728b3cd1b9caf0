// Completions that only the unreachable cloud can serve wait in the offline
// queue as tasks (the same SQLite rows, MCP tasks and delivery loop as deferred
// tool calls, host/src/queue/) and are answered when the link returns. The
// queue sees one more destination, MODELS_DESTINATION, whose "delivery" runs
// the model router again: a link failure (the cloud still unreachable) keeps
// the task queued with the queue's backoff, or for as long as the cloud's
// Retry-After asked (a 429 or 503, capped at offline.sync_interval_seconds);
// any other refusal ends it failed.
import { randomUUID } from '../crypto.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { DestinationError, RetryLater, type DeliveryCall } from '../queue/delivery.js';
import { generateMessages, generateResult, type GenerateArgs } from '../tools/generate.js';
import { ModelError } from './engine.js';
import type { CompletionAnswer, CompletionRequest, ModelService } from './service.js';
import { chatCompletionBody, mcpCompletionBody } from './shapes.js';
import type { QueuedCompletion } from './deferral.js';

export type { CompletionDeferral, QueuedCompletion } from './deferral.js';

/** The queue destination of completions ("[models]" cannot clash with a TOML bare key under [offline.destinations]). */
export const MODELS_DESTINATION = '[models]';
/** The queued call's tool name for a REST completion; the `generate` tool keeps its own name. */
export const COMPLETION_TOOL = 'completion';
/** Where a queued completion's result is read: GET, with ?id=<task id>. */
export const COMPLETION_TASK_PATH = '/v1/completions/task';

/** The URL a queued completion's result is read from. */
export const resultUrlOf = (taskId: string): string => `${COMPLETION_TASK_PATH}?id=${encodeURIComponent(taskId)}`;

/**
 * Delivers a queued completion (REST) or `generate` call (MCP task): the router
 * decides again, trying the cloud even inside its 10 s link-down memory, since
 * the queue paces the retries. Throws a plain Error while the cloud is still
 * unreachable (the queue keeps the task), RetryLater when it also said how long
 * to wait, DestinationError for a final refusal.
 */
export function completionDeliverer(models: ModelService): (call: DeliveryCall, signal: AbortSignal) => Promise<CallToolResult> {
  return async (call, signal) => {
    const generate = call.tool === 'generate';
    const request = generate ? generateRequest(call.arguments) : completionRequest(call.arguments);
    let answer: CompletionAnswer;
    try {
      answer = await models.generate({ ...request, signal, probeLink: true });
    } catch (err) {
      if (err instanceof ModelError && err.code === 'cloud_offline') throw err.retryAfterMs !== undefined ? new RetryLater(err.message, err.retryAfterMs) : new Error(err.message);
      if (err instanceof ModelError) throw new DestinationError(`${err.code}: ${err.message}`);
      throw err;
    }
    if (generate) return generateResult(answer);
    return { content: [{ type: 'text', text: answer.text }], structuredContent: bodyOf(answer, (call.arguments as { shape?: unknown }).shape) };
  };
}

/** The result's JSON in the shape the caller reads: a route's body, or the npm API's answer as it is. */
function bodyOf(answer: CompletionAnswer, shape: unknown): Record<string, unknown> {
  if (shape === 'chat') return chatCompletionBody(answer, `chatcmpl-${randomUUID()}`, Math.floor(Date.now() / 1000));
  if (shape === 'answer') return { ...answer };
  return mcpCompletionBody(answer);
}

function completionRequest(args: Record<string, unknown>): CompletionRequest {
  const c = args as unknown as QueuedCompletion;
  if (!Array.isArray(c.messages)) throw new DestinationError('a queued completion without messages');
  return { messages: c.messages, ...(c.maxTokens !== undefined ? { maxTokens: c.maxTokens } : {}), ...(c.temperature !== undefined ? { temperature: c.temperature } : {}), ...(c.seed !== undefined ? { seed: c.seed } : {}), ...(Array.isArray(c.stop) ? { stop: c.stop } : {}) };
}

function generateRequest(args: Record<string, unknown>): CompletionRequest {
  const a = args as unknown as GenerateArgs;
  if (typeof a.prompt !== 'string') throw new DestinationError('a queued generate call without a prompt');
  return { messages: generateMessages(a), ...(a.max_tokens !== undefined ? { maxTokens: a.max_tokens } : {}) };
}
