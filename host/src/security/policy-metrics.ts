// /metrics for [authorization] and [rate_limits]: denials and rate refusals by
// principal (and kind or tool), and the rate buckets' levels. Every series is
// bounded (security/counters.ts, rate_limits.max_tracked).
import { writeMetric, type Sample } from '../telemetry/metrics.js';
import type { Policy } from './policy.js';
import type { RateLimiter } from './rate-limit.js';

export function policyMetrics(policy: Policy | undefined, limiter: RateLimiter | undefined): string {
  const lines: string[] = [];
  if (policy) {
    writeMetric(lines, 'counter', 'mcp_edge_authorization_denied_total', 'Requests refused by [authorization], by principal and kind (tool, resource, prompt, route, admin).', policy.denials.samples());
  }
  if (limiter) {
    writeMetric(lines, 'counter', 'mcp_edge_rate_limited_total', 'Calls refused by [rate_limits], by principal and tool ("" for resource reads and prompts).', limiter.refusals.samples());
    const limits = limiter.limits();
    writeMetric(lines, 'gauge', 'mcp_edge_rate_limit_buckets', 'Buckets each rate limit keeps (one per principal seen lately).', limits.map((l): Sample => [{ limit: l.label }, l.tracked]));
    writeMetric(
      lines,
      'gauge',
      'mcp_edge_rate_limit_tokens',
      "Tokens (calls) left in each limit's 100 emptiest buckets.",
      limits.flatMap((l) => l.levels.map(([principal, tokens]): Sample => [{ limit: l.label, principal }, Math.round(tokens * 1000) / 1000])),
    );
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}
