// What an answer's tokens cost at the configured [models] prices. The router
// weighs its own estimate (the core's estimated_costs, prompt + max tokens);
// this is the bill after the fact, from the tokens the serving engine reported.
import type { EngineKind, TokenPrices } from '../core/index.js';

/** The cost of `usage` on `engine`, in the prices' unit. */
export function costOf(prices: TokenPrices, engine: EngineKind, usage: { promptTokens: number; completionTokens: number }): number {
  const prompt = usage.promptTokens / 1000;
  const completion = usage.completionTokens / 1000;
  return engine === 'cloud' ? prompt * prices.cloudPromptPer1k + completion * prices.cloudCompletionPer1k : (prompt + completion) * prices.localPer1k;
}
