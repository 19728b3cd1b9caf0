// Rate limits ([rate_limits]): token buckets per principal and per tool. Each
// limit (the default, and each rule) keeps one bucket per principal: the
// default (or a rule without `tools`, which replaces it for its principals)
// counts all of a principal's calls (tools/call, resources/read,
// prompts/get); the first rule with `tools` that matches a tools/call counts
// it too. A call needs a token from every bucket that counts it, or none is
// taken. Over HTTP, a POST whose calls cannot all be admitted is refused whole
// with 429 and Retry-After before anything in it runs (gateway/http.ts);
// over stdio the call is answered RATE_LIMITED with data.retry_after_seconds.
//
// Memory: buckets are per (limit, principal), never per tool name, and each
// limit keeps at most rate_limits.max_tracked of them; past that, full buckets
// (which remember nothing a fresh one would not) are dropped first, then the
// oldest.

import type { BucketSettings, RateLimitRule, RateLimitSettings } from '../config/policy-settings.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { RATE_LIMITED } from '../protocol/jsonrpc.js';
import { LabelledCounter } from './counters.js';
import { GlobSet } from './glob.js';
import type { DenialHook } from './policy.js';
import { PerPrincipal, PrincipalMatcher } from './principal-match.js';
import type { Principal } from './principal.js';
import { McpError } from '../protocol/mcp-error.js';

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in ms. */
  at: number;
}

/** One limit: its bucket shape and a bucket per principal. */
class Limit {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    /** "default" or "rule N", for /metrics. */
    readonly label: string,
    readonly shape: BucketSettings,
    private readonly maxTracked: number,
  ) {
    this.perMs = shape.rate / 1000;
  }

  /** The principal's bucket, brought up to `now`. */
  bucket(principalId: string, now: number): Bucket {
    let b = this.buckets.get(principalId);
    if (b) {
      b.tokens = Math.min(this.shape.burst, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
      return b;
    }
    if (this.buckets.size >= this.maxTracked) this.shed(now);
    b = { tokens: this.shape.burst, at: now };
    this.buckets.set(principalId, b);
    return b;
  }

  /** Ms until `b` holds `needed` tokens. */
  waitMs(b: Bucket, needed: number): number {
    return Math.max(0, (needed - b.tokens) / this.perMs);
  }

  /** Drops full buckets; if that frees less than a quarter, the oldest too, down to three quarters. */
  private shed(now: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.shape.burst) this.buckets.delete(id);
    }
    const target = Math.floor(this.maxTracked * 0.75);
    for (const id of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(id);
    }
  }

  get tracked(): number {
    return this.buckets.size;
  }

  /** The `n` emptiest buckets' levels now, for /metrics. */
  levels(now: number, n: number): [string, number][] {
    const all: [string, number][] = [...this.buckets].map(([id, b]) => [id, Math.min(this.shape.burst, b.tokens + (now - b.at) * this.perMs)]);
    return all.sort((a, b) => a[1] - b[1]).slice(0, n);
  }
}

interface ToolLimit {
  tools: GlobSet;
  limit: Limit;
}

/** The limits that count a principal's calls. */
interface Plan {
  calls: Limit | undefined;
  tools: readonly ToolLimit[];
  /** The tool limit found per tool name (null: none), so that a call matches no globs once warm. */
  toolLimits: Map<string, Limit | null>;
}

const NO_LIMITS: Plan = { calls: undefined, tools: [], toolLimits: new Map() };
/** Most tool names a plan remembers: names come from clients, and invented ones must not grow it. */
const MAX_TOOL_NAMES = 1024;

/** What one POST asks of the limits: its calls, and the tool of each tools/call. */
export interface CallDemand {
  calls: number;
  tools: readonly string[];
}

export class RateLimiter {
  /** Refusals by principal and tool ("" for resources/read, prompts/get), for /metrics. */
  readonly refusals = new LabelledCounter(['principal', 'tool'] as const);
  private readonly defaultLimit: Limit | undefined;
  private readonly rules: { who: PrincipalMatcher; rule: RateLimitRule; limit: Limit; tools?: GlobSet }[];
  private readonly plans: PerPrincipal<Plan>;

  constructor(
    settings: RateLimitSettings,
    private readonly onDenied?: DenialHook,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.defaultLimit = settings.default ? new Limit('default', settings.default, settings.maxTracked) : undefined;
    this.rules = settings.rules.map((rule, i) => ({
      who: new PrincipalMatcher(rule.principals, true),
      rule,
      limit: new Limit(`rule ${i + 1}`, rule, settings.maxTracked),
      ...(rule.tools ? { tools: new GlobSet(rule.tools) } : {}),
    }));
    this.plans = new PerPrincipal((p) => this.planOf(p), settings.maxTracked);
  }

  private planOf(principal: Principal): Plan {
    const mine = this.rules.filter((r) => r.who.matches(principal));
    const calls = mine.find((r) => !r.tools)?.limit ?? this.defaultLimit;
    const tools = mine.flatMap((r) => (r.tools ? [{ tools: r.tools, limit: r.limit }] : []));
    return calls || tools.length > 0 ? { calls, tools, toolLimits: new Map() } : NO_LIMITS;
  }

  /** The limit that counts calls of `tool`: the first matching rule with `tools`. */
  private toolLimit(plan: Plan, tool: string): Limit | undefined {
    if (plan.tools.length === 0) return undefined;
    const known = plan.toolLimits.get(tool);
    if (known !== undefined) return known ?? undefined;
    let found: Limit | null = null;
    for (const t of plan.tools) {
      if (t.tools.matchesFolded(tool)) {
        found = t.limit;
        break;
      }
    }
    if (plan.toolLimits.size >= MAX_TOOL_NAMES) plan.toolLimits.clear();
    plan.toolLimits.set(tool, found);
    return found ?? undefined;
  }

  /** Ms to wait before one call (of `tool` when it is a tools/call) can go; 0 when it went and took its tokens. */
  takeOne(principal: Principal, tool: string | undefined): number {
    const plan = this.plans.get(principal);
    if (plan === NO_LIMITS) return 0;
    const now = this.now();
    const calls = plan.calls?.bucket(principal.id, now);
    const toolLimit = tool === undefined ? undefined : this.toolLimit(plan, tool);
    const toolBucket = toolLimit?.bucket(principal.id, now);
    const wait = Math.max(calls ? plan.calls!.waitMs(calls, 1) : 0, toolBucket ? toolLimit!.waitMs(toolBucket, 1) : 0);
    if (wait > 0) return this.refused(principal, tool ?? '', wait);
    if (calls) calls.tokens -= 1;
    if (toolBucket) toolBucket.tokens -= 1;
    return 0;
  }

  /** Like takeOne for a whole POST: all its calls go, or none and the wait. */
  take(principal: Principal, demand: CallDemand): number {
    if (demand.calls === 1) return this.takeOne(principal, demand.tools[0]);
    const plan = this.plans.get(principal);
    if (plan === NO_LIMITS || demand.calls === 0) return 0;
    const now = this.now();
    const needs = new Map<Limit, number>();
    if (plan.calls) needs.set(plan.calls, demand.calls);
    for (const tool of demand.tools) {
      const limit = this.toolLimit(plan, tool);
      if (limit) needs.set(limit, (needs.get(limit) ?? 0) + 1);
    }
    let wait = 0;
    for (const [limit, n] of needs) {
      // A batch asking more than the bucket can ever hold would wait forever: it is refused as if it asked for a full bucket.
      wait = Math.max(wait, limit.waitMs(limit.bucket(principal.id, now), Math.min(n, limit.shape.burst)));
      if (n > limit.shape.burst) wait = Math.max(wait, 1);
    }
    if (wait > 0) return this.refused(principal, demand.tools[0] ?? '', wait);
    for (const [limit, n] of needs) limit.bucket(principal.id, now).tokens -= n;
    return 0;
  }

  private refused(principal: Principal, tool: string, waitMs: number): number {
    this.refusals.add({ principal: principal.id, tool });
    this.onDenied?.({ principal, kind: 'rate', name: tool, reason: `rate limit: try again in ${Math.ceil(waitMs)} ms` });
    return waitMs;
  }

  /** Throws RATE_LIMITED (a JSON-RPC error, for stdio sessions) when the call must wait. */
  checkCall(principal: Principal, tool: string | undefined): void {
    const wait = this.takeOne(principal, tool);
    if (wait > 0) {
      const seconds = retryAfterSeconds(wait);
      throw new McpError(RATE_LIMITED, rateMessage(principal, seconds), { retry_after_seconds: seconds });
    }
  }

  /**
   * Admits a POST's messages whole (the calls among them: tools/call,
   * resources/read, prompts/get), or throws a 429 HttpRefusal with
   * Retry-After and takes nothing.
   */
  checkMessages(principal: Principal, messages: readonly unknown[]): void {
    if (messages.length === 1) {
      const call = callOf(messages[0]);
      if (call === undefined) return;
      const wait = this.takeOne(principal, call === '' ? undefined : call);
      if (wait > 0) throw tooMany(principal, wait);
      return;
    }
    const tools: string[] = [];
    let calls = 0;
    for (const m of messages) {
      const call = callOf(m);
      if (call === undefined) continue;
      calls += 1;
      if (call !== '') tools.push(call);
    }
    const wait = this.take(principal, { calls, tools });
    if (wait > 0) throw tooMany(principal, wait);
  }

  /** Every limit: its label, how many buckets it keeps, and its emptiest buckets' levels. */
  limits(): { label: string; tracked: number; levels: [string, number][] }[] {
    const now = this.now();
    const all = [...(this.defaultLimit ? [this.defaultLimit] : []), ...this.rules.map((r) => r.limit)];
    return all.map((l) => ({ label: l.label, tracked: l.tracked, levels: l.levels(now, 100) }));
  }
}

/** What a message asks of the limits: undefined (not a call), "" (a read or prompt), or the tool of a tools/call. */
function callOf(message: unknown): string | undefined {
  const m = message as { method?: unknown; id?: unknown; params?: { name?: unknown } };
  if (m.id === undefined) return undefined;
  if (m.method === 'tools/call') return typeof m.params?.name === 'string' ? m.params.name : '';
  return m.method === 'resources/read' || m.method === 'prompts/get' ? '' : undefined;
}

function tooMany(principal: Principal, waitMs: number): HttpRefusal {
  const seconds = retryAfterSeconds(waitMs);
  return new HttpRefusal(429, RATE_LIMITED, rateMessage(principal, seconds), { 'retry-after': String(seconds) });
}

/** Whole seconds, at least 1 (Retry-After takes integers). */
const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

const rateMessage = (principal: Principal, seconds: number): string =>
  `Too many requests: principal "${principal.id}" is over its rate limit (rate_limits); retry after ${seconds} s.`;
