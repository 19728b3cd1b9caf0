// [authorization] and [rate_limits] resolved into the settings that
// security/policy.ts and security/rate-limit.ts compile when the gateway
// starts. Patterns stay text here; they were checked by the schema.
import type { AuthorizationConfig, RateLimitsConfig } from './policy-schema.js';

export interface AuthorizationRule {
  principals: readonly string[];
  effect: 'allow' | 'deny';
  tools: readonly string[];
  resources: readonly string[];
  prompts: readonly string[];
  routes: readonly string[];
  admin: readonly string[];
}

/** Who may use what; absent from GatewaySettings when the config has no [authorization]. */
export interface AuthorizationSettings {
  /** For authenticated principals when no rule matches. */
  defaultEffect: 'allow' | 'deny';
  rules: readonly AuthorizationRule[];
}

export interface BucketSettings {
  /** Tokens (calls) per second. */
  rate: number;
  burst: number;
}

export interface RateLimitRule extends BucketSettings {
  principals: readonly string[];
  /** Absent: the rule replaces the default bucket of its principals. */
  tools?: readonly string[];
}

/** Token buckets; absent from GatewaySettings when the config has no [rate_limits]. */
export interface RateLimitSettings {
  default?: BucketSettings;
  rules: readonly RateLimitRule[];
  maxTracked: number;
}

export function resolveAuthorization(a: AuthorizationConfig | undefined): AuthorizationSettings | undefined {
  if (!a) return undefined;
  return {
    defaultEffect: a.default,
    rules: a.rules.map((r) => ({ principals: r.principals, effect: r.effect, tools: r.tools, resources: r.resources, prompts: r.prompts, routes: r.routes, admin: r.admin })),
  };
}

export function resolveRateLimits(r: RateLimitsConfig | undefined): RateLimitSettings | undefined {
  if (!r) return undefined;
  const d = r.default;
  return {
    ...(d ? { default: { rate: d.rate, burst: d.burst } } : {}),
    rules: r.rules.map((rule) => ({ principals: rule.principals, rate: rule.rate, burst: rule.burst, ...(rule.tools ? { tools: rule.tools } : {}) })),
    maxTracked: r.max_tracked,
  };
}
