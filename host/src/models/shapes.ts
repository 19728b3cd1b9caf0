// The JSON bodies of a completion answer, shared by the HTTP routes (answered
// at once) and the offline queue (answered when the link returns), so a queued
// completion's result reads exactly as the immediate one would have.
import type { CompletionAnswer } from './service.js';

/** The answer as OpenAI's `chat.completion`, with the `mcp_edge` member. */
export function chatCompletionBody(a: CompletionAnswer, id: string, created: number) {
  return { id, object: 'chat.completion', created, model: a.model, choices: [{ index: 0, message: { role: 'assistant', content: a.text }, finish_reason: a.finishReason }], usage: usageOf(a), mcp_edge: served(a) };
}

/** The answer in POST /v1/mcp/completions' JSON (docs/inference.md). */
export function mcpCompletionBody(a: CompletionAnswer) {
  return { text: a.text, finish_reason: a.finishReason, usage: usageOf(a), ...served(a) };
}

/** Which engine served, why, after which failed attempts, and how long it took. */
export function served(a: CompletionAnswer) {
  const cost = a.cost ? { cost: { estimated: a.cost.estimated, actual: a.cost.actual } } : {};
  return { engine: a.engine, model: a.model, reason: a.reason, fallbacks: a.fallbacks, timings: { first_token_ms: round(a.timings.firstTokenMs), total_ms: round(a.timings.totalMs) }, ...cost };
}

export function usageOf(a: CompletionAnswer) {
  return { prompt_tokens: a.usage.promptTokens, completion_tokens: a.usage.completionTokens, total_tokens: a.usage.promptTokens + a.usage.completionTokens };
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 10) / 10;
}
