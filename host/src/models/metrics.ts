// What the models did, for GET /metrics: answers by engine and reason (the
// local vs cloud share), fallbacks by failure, tokens, time to first token,
// and the local model's measured speed.
import { writeMetric, type Sample } from '../telemetry/metrics.js';

/** The parts of an answer the counters read (service.ts's CompletionAnswer fits it). */
export interface CountedAnswer {
  engine: string;
  reason: string;
  fallbacks: readonly { engine: string; failure: string }[];
  usage: { completionTokens: number };
  timings: { firstTokenMs: number | null };
  cost?: { actual: number };
}

export class ModelCounters {
  private readonly answers = new Map<string, number>();
  private readonly fallbacks = new Map<string, number>();
  private readonly tokens = new Map<string, number>();
  private readonly costs = new Map<string, number>();
  private readonly firstToken = new Map<string, { sum: number; count: number }>();
  private failedRequests = 0;

  record(answer: CountedAnswer): void {
    bump(this.answers, `${answer.engine}|${answer.reason}`);
    for (const f of answer.fallbacks) bump(this.fallbacks, `${f.engine}|${f.failure}`);
    bump(this.tokens, answer.engine, answer.usage.completionTokens);
    if (answer.cost) bump(this.costs, answer.engine, answer.cost.actual);
    if (answer.timings.firstTokenMs !== null) {
      const t = this.firstToken.get(answer.engine) ?? { sum: 0, count: 0 };
      this.firstToken.set(answer.engine, { sum: t.sum + answer.timings.firstTokenMs / 1000, count: t.count + 1 });
    }
  }

  recordFailure(): void {
    this.failedRequests += 1;
  }

  /** Prometheus text; `localTokensPerSecond` is the local engine's moving average. */
  render(localTokensPerSecond: number | undefined): string {
    const lines: string[] = [];
    const pairs = (m: Map<string, number>, a: string, b: string): Sample[] => [...m].map(([k, n]) => [{ [a]: k.split('|')[0]!, [b]: k.split('|')[1]! }, n]);
    writeMetric(lines, 'counter', 'mcp_edge_model_answers_total', 'Completions answered, by the engine that finished them and why it was chosen.', pairs(this.answers, 'engine', 'reason'));
    writeMetric(lines, 'counter', 'mcp_edge_model_fallbacks_total', 'Attempts that did not serve the answer, by engine and failure.', pairs(this.fallbacks, 'engine', 'failure'));
    writeMetric(lines, 'counter', 'mcp_edge_model_failures_total', 'Completions no engine could serve.', [[null, this.failedRequests]]);
    writeMetric(lines, 'counter', 'mcp_edge_model_completion_tokens_total', 'Tokens generated, by engine.', [...this.tokens].map(([engine, n]) => [{ engine }, n]));
    if (this.costs.size > 0) writeMetric(lines, 'counter', 'mcp_edge_model_cost_total', 'What answered tokens cost at the [models] prices (their unit), by engine.', [...this.costs].map(([engine, n]) => [{ engine }, n]));
    writeMetric(lines, 'counter', 'mcp_edge_model_first_token_seconds_sum', 'Time from request to first token, summed, by engine.', [...this.firstToken].map(([engine, t]) => [{ engine }, t.sum]));
    writeMetric(lines, 'counter', 'mcp_edge_model_first_token_seconds_count', 'Answers with a first token, by engine.', [...this.firstToken].map(([engine, t]) => [{ engine }, t.count]));
    writeMetric(lines, 'gauge', 'mcp_edge_model_local_tokens_per_second', "The local model's generation speed (moving average; 0 before its first answer).", [[null, localTokensPerSecond ?? 0]]);
    return lines.join('\n') + '\n';
  }
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}
