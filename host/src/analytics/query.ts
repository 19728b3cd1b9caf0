// Reading usage analytics back: the hours in a time range, filtered by tool,
// provider or principal, with totals and the top tools. The same report
// serves GET /v1/analytics and the MCP resource mcp-edge://analytics.
import type { Db } from '../storage/database.js';
import { decodeHistogram, emptyHistogram, mergeInto, quantile, type Histogram } from './histogram.js';
import { HOUR_MS } from './usage.js';

export interface AnalyticsFilter {
  /** Inclusive, ms since epoch (rounded down to its hour). */
  fromMs: number;
  /** Exclusive, ms since epoch. */
  toMs: number;
  tool?: string;
  provider?: string;
  principal?: string;
}

/** A query parameter was wrong: the message says which and what to send. */
export class AnalyticsQueryError extends Error {
  override readonly name = 'AnalyticsQueryError';
}

const DAY_MS = 86_400_000;
/** Most hourly rows in one answer; the totals and tools still count every row. */
export const MAX_HOUR_ROWS = 5_000;
const FILTERS = ['from', 'to', 'tool', 'provider', 'principal'] as const;

/** The largest time a Date holds, in ms either side of 1970: past it, toISOString throws. */
const MAX_TIME_MS = 8.64e15;

/** A time given as ISO 8601 or as ms since epoch. */
function timeOf(name: string, value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!(Math.abs(ms) <= MAX_TIME_MS)) throw new AnalyticsQueryError(`"${name}" must be a time as ISO 8601 (2026-12-05T18:00:00Z) or milliseconds since 1970; got "${value}".`);
  return ms;
}

/** The filter of a query string (from, to, tool, provider, principal); from defaults to 24 hours before to, to to now. */
export function parseFilter(params: URLSearchParams, now: number): AnalyticsFilter {
  for (const key of params.keys()) {
    if (!(FILTERS as readonly string[]).includes(key)) throw new AnalyticsQueryError(`unknown parameter "${key}": the analytics take ${FILTERS.join(', ')}.`);
  }
  const to = params.get('to');
  const toMs = to ? timeOf('to', to) : now;
  const from = params.get('from');
  const fromMs = from ? timeOf('from', from) : toMs - DAY_MS;
  if (fromMs >= toMs) throw new AnalyticsQueryError(`"from" (${new Date(fromMs).toISOString()}) must be before "to" (${new Date(toMs).toISOString()}).`);
  const filter: AnalyticsFilter = { fromMs, toMs };
  for (const key of ['tool', 'provider', 'principal'] as const) {
    const value = params.get(key);
    if (value !== null) filter[key] = value;
  }
  return filter;
}

interface Row {
  hour_ms: number;
  tool: string;
  provider: string;
  principal: string;
  calls: number;
  errors: number;
  bytes: number;
  tokens: number;
  token_calls: number;
  latency_sum_ms: number;
  latency: Buffer;
}

/** Counts summed over rows, with the merged latency histogram. */
class Sum {
  calls = 0;
  errors = 0;
  bytes = 0;
  tokens = 0;
  tokenCalls = 0;
  latencySumMs = 0;
  readonly latency: Histogram = emptyHistogram();

  add(row: Row, latency: Histogram): void {
    this.calls += row.calls;
    this.errors += row.errors;
    this.bytes += row.bytes;
    this.tokens += row.tokens;
    this.tokenCalls += row.token_calls;
    this.latencySumMs += row.latency_sum_ms;
    mergeInto(this.latency, latency);
  }

  report() {
    const round = (n: number) => Number(n.toFixed(4));
    return {
      calls: this.calls,
      errors: this.errors,
      success_rate: this.calls === 0 ? null : round((this.calls - this.errors) / this.calls),
      bytes: this.bytes,
      tokens: this.tokens,
      token_counted_calls: this.tokenCalls,
      latency_ms: {
        mean: this.calls === 0 ? null : round(this.latencySumMs / this.calls),
        p50: quantile(this.latency, 0.5),
        p95: quantile(this.latency, 0.95),
        p99: quantile(this.latency, 0.99),
      },
    };
  }
}

export type AnalyticsReport = ReturnType<typeof queryAnalytics>;

export function queryAnalytics(db: Db, filter: AnalyticsFilter) {
  const where = ['hour_ms >= ?', 'hour_ms < ?'];
  const args: (string | number)[] = [filter.fromMs - (filter.fromMs % HOUR_MS), filter.toMs];
  for (const key of ['tool', 'provider', 'principal'] as const) {
    const value = filter[key];
    if (value === undefined) continue;
    where.push(`${key} = ?`);
    args.push(value);
  }
  const rows = db.prepare(`SELECT * FROM usage_hourly WHERE ${where.join(' AND ')} ORDER BY hour_ms, tool, provider, principal`).all(...args) as Row[];
  const total = new Sum();
  const tools = new Map<string, Sum>();
  const hours = [];
  for (const row of rows) {
    const latency = decodeHistogram(row.latency);
    total.add(row, latency);
    let tool = tools.get(row.tool);
    if (!tool) tools.set(row.tool, (tool = new Sum()));
    tool.add(row, latency);
    if (hours.length >= MAX_HOUR_ROWS) continue;
    const one = new Sum();
    one.add(row, latency);
    hours.push({ hour: new Date(row.hour_ms).toISOString(), tool: row.tool, provider: row.provider, principal: row.principal, ...one.report() });
  }
  const byCalls = [...tools.entries()].sort((a, b) => b[1].calls - a[1].calls || a[0].localeCompare(b[0]));
  return {
    from: new Date(filter.fromMs).toISOString(),
    to: new Date(filter.toMs).toISOString(),
    ...(filter.tool !== undefined ? { tool: filter.tool } : {}),
    ...(filter.provider !== undefined ? { provider: filter.provider } : {}),
    ...(filter.principal !== undefined ? { principal: filter.principal } : {}),
    totals: total.report(),
    tools: byCalls.map(([name, sum]) => ({ tool: name, ...sum.report() })),
    hours,
    ...(rows.length > hours.length ? { hours_truncated: rows.length - hours.length } : {}),
  };
}
