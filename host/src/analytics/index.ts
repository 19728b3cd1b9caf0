// Usage analytics, wired into the gateway: the recorder every tools/call
// reports to, GET /v1/analytics and the MCP resource mcp-edge://analytics.

import type { Variables } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { Db } from '../storage/database.js';
import type { Logger } from '../telemetry/log.js';
import type { RouteRegistry } from '../gateway/routes.js';
import type { LocalProvider } from '../providers/local/provider.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { INVALID_PARAMS } from '../protocol/jsonrpc.js';
import { AnalyticsQueryError, parseFilter, queryAnalytics, type AnalyticsFilter } from './query.js';
import { UsageRecorder, type AnalyticsSettings, type TokenCounter } from './usage.js';
import { McpError } from '../protocol/mcp-error.js';

export { UsageRecorder, type AnalyticsSettings } from './usage.js';
export const ANALYTICS_URI = 'mcp-edge://analytics';
export const ANALYTICS_ROUTE = 'GET /v1/analytics';
export const RECENT_ROUTE = 'GET /v1/analytics/recent';

const DESCRIPTION =
  'Usage of the tools behind this gateway: calls, errors, success rate, p50/p95/p99 latency, bytes and tokens, per tool, provider, principal and hour. Query parameters: from, to (ISO 8601 or ms), tool, provider, principal; the last 24 hours by default.';

export interface Analytics {
  usage: UsageRecorder;
  /** The report for a query string, with what was counted until now. */
  report(params: URLSearchParams): Promise<ReturnType<typeof queryAnalytics>>;
}

/** Starts the recorder and serves its reports; undefined when analytics.enabled = false. */
export function startAnalytics(settings: AnalyticsSettings, db: Db, log: Logger, countTokens: TokenCounter, rest: RouteRegistry, plugins: LocalProvider): Analytics | undefined {
  if (!settings.enabled) return undefined;
  const usage = new UsageRecorder(db, settings, log, settings.countTokens ? countTokens : undefined);
  const report = async (params: URLSearchParams) => {
    const filter: AnalyticsFilter = parseFilter(params, Date.now());
    await usage.flush();
    return queryAnalytics(db, filter);
  };
  rest.set(ANALYTICS_ROUTE, async (req) => {
    try {
      return await report(new URL(req.url ?? '/', 'http://gateway').searchParams);
    } catch (err) {
      if (err instanceof AnalyticsQueryError) throw new HttpRefusal(400, INVALID_PARAMS, err.message);
      throw err;
    }
  });
  rest.set(RECENT_ROUTE, () => ({ calls: usage.recent() }));
  const read = async (uri: URL) => {
    try {
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(await report(uri.searchParams)) }] };
    } catch (err) {
      if (err instanceof AnalyticsQueryError) throw new McpError(INVALID_PARAMS, err.message);
      throw err;
    }
  };
  plugins.registerResource({ uri: ANALYTICS_URI, name: 'analytics', title: 'Usage analytics', description: DESCRIPTION, mimeType: 'application/json', read });
  plugins.registerResourceTemplate({
    // The SDK matches a form-style query ({?a,b}) only whole and in order; the query as one reserved expansion takes any subset.
    uriTemplate: `${ANALYTICS_URI}?{+query}`,
    name: 'analytics-query',
    title: 'Usage analytics, filtered',
    description: DESCRIPTION,
    mimeType: 'application/json',
    read: (uri: URL, _variables: Variables) => read(uri),
  });
  return { usage, report };
}
