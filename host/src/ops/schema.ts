// The config sections of the operations work (issue 18): usage analytics and
// the dashboard. schema.ts puts them into the config; ops/settings.ts reads them.
import { z } from 'zod';

// Usage analytics ([analytics], docs/operations.md).
export const analyticsSchema = z
  .object({
    /** Count every tools/call per tool, provider, principal and hour in the database. */
    enabled: z.boolean().default(true),
    /** Hours older than this many days are deleted. */
    retention_days: z.number().int().min(1).max(3650).default(30),
    /** How long calls are counted in memory before the counts are written in one transaction, ms. */
    flush_interval_ms: z.number().int().min(10).max(600_000).default(5_000),
    /** Count the tokens (cl100k_base) of each result's text, off the request path; off: tokens stay 0. */
    count_tokens: z.boolean().default(true),
  })
  .strict();

// The dashboard ([ui], docs/operations.md "Dashboard"): off unless enabled.
export const uiSchema = z
  .object({
    /** Serve the dashboard at /ui. */
    enabled: z.boolean().default(false),
  })
  .strict();

// Logs ([log], docs/operations.md "Logs"): one line per event on stderr. Both keys
// give way to --log-level / --log-format and MCP_EDGE_LOG_LEVEL / MCP_EDGE_LOG_FORMAT.
export const logSchema = z
  .object({
    /** Lines below this level are not written; POST /v1/log and SIGHUP change it while running. */
    level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).optional(),
    /** json: one JSON object a line; pretty: for a person; auto: pretty when stderr is a terminal, json otherwise. */
    format: z.enum(['json', 'pretty', 'auto']).optional(),
  })
  .strict();
