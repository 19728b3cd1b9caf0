// The sqlite plugin: db_query over configured database files, read-only unless
// the operator says otherwise. SQLite itself decides what a statement may do
// (an authorizer, a limit of 0 attached databases, a read-only open: see
// sqlite-child.ts), so no spelling of the SQL gets around it; node:sqlite is
// the binding that exposes those. Queries run in a child process with a time
// limit and a row limit (see sqlite-worker.ts).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { PluginSettings } from '../config/resolve.js';
import { definePlugin, type Plugin } from '../providers/local/provider.js';
import { defineTool } from '../tools/registry.js';
import { PluginConfigError, refusing, structured } from './common.js';
import { SqliteWorker } from './sqlite-worker.js';

/** The plugin's section of mcp-edge.toml, validated (config/resolve.ts passes it whole). */
type SqliteConfig = NonNullable<PluginSettings['sqlite']>;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const queryOutput = z.object({
  database: z.string(),
  columns: z.array(z.string()).optional(),
  rows: z.array(z.array(z.unknown())).optional(),
  row_count: z.number(),
  truncated: z.boolean(),
  changes: z.number().optional(),
  last_insert_rowid: z.number().optional(),
});

async function checkDatabases(databases: Record<string, string>): Promise<Record<string, string>> {
  const resolved: Record<string, string> = {};
  for (const [name, file] of Object.entries(databases)) {
    const path = resolve(file);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new PluginConfigError(`plugins.sqlite.databases.${name}: ${path} is not an existing SQLite file.`);
    resolved[name] = path;
  }
  return resolved;
}

/**
 * The guard needs node:sqlite's setAuthorizer and per-connection limits
 * (Node.js 24 releases have both; 22 does not). Without them the plugin
 * refuses to start rather than run queries unguarded.
 */
async function checkSqliteGuard(): Promise<void> {
  const sqlite = await import('node:sqlite').catch(() => undefined);
  let guarded = false;
  if (sqlite && typeof sqlite.DatabaseSync.prototype.setAuthorizer === 'function') {
    const db = new sqlite.DatabaseSync(':memory:', { limits: { attach: 0 } });
    guarded = db.limits?.attach === 0;
    db.close();
  }
  if (!guarded) {
    throw new PluginConfigError(
      `plugins.sqlite needs node:sqlite with setAuthorizer and connection limits, which this Node.js (${process.version}) lacks. Run mcp-edge on Node.js 24 (the one setup brings into .node/ will do), or disable the plugin.`,
    );
  }
}

type Scalar = z.infer<typeof scalar>;

/** SQLite has no booleans: bind them as 1 and 0, as SQLite itself stores them. */
function bindable(params: Scalar[] | Record<string, Scalar>): unknown[] | Record<string, unknown> {
  const convert = (v: Scalar) => (typeof v === 'boolean' ? Number(v) : v);
  return Array.isArray(params) ? params.map(convert) : Object.fromEntries(Object.entries(params).map(([k, v]) => [k, convert(v)]));
}

function queryTool(names: [string, ...string[]], config: SqliteConfig, worker: SqliteWorker) {
  const mode = config.read_only
    ? 'Read-only: statements that write are refused.'
    : 'Reads and writes are allowed, on this database only (no ATTACH, VACUUM, transactions or temporary objects).';
  return defineTool({
    name: 'db_query',
    title: 'Query a SQLite database',
    description:
      `Runs one SQL statement on a configured SQLite database (${names.join(', ')}). ${mode} ` +
      `At most ${config.max_rows} rows, ${config.max_result_bytes} bytes and ${config.timeout_ms} ms; bind values with params instead of pasting them into the SQL.`,
    input: z.object({
      database: z.enum(names).describe('Which configured database.'),
      sql: z.string().min(1).max(100_000).describe('One SQL statement; "?" or ":name" placeholders for params.'),
      params: z
        .union([z.array(scalar), z.record(z.string(), scalar)])
        .default([])
        .describe('Positional (array, exactly one per "?") or named (object; a name left out is NULL) values.'),
      max_rows: z.number().int().min(1).optional().describe('Fewer rows than the configured limit.'),
    }),
    output: queryOutput,
    annotations: { readOnlyHint: config.read_only, destructiveHint: !config.read_only, openWorldHint: false },
    handler: (args, { signal }) =>
      refusing(async () => {
        const maxRows = Math.min(args.max_rows ?? config.max_rows, config.max_rows);
        const params = bindable(args.params);
        const result = await worker.query({ database: args.database, sql: args.sql, params, maxRows, maxBytes: config.max_result_bytes }, signal);
        return structured({ database: args.database, ...result, row_count: result.rows?.length ?? 0 });
      }),
  });
}

/** Builds the plugin; every configured database file must exist. */
export async function sqlitePlugin(config: SqliteConfig): Promise<Plugin> {
  await checkSqliteGuard();
  const databases = await checkDatabases(config.databases);
  const names = Object.keys(databases).sort() as [string, ...string[]];
  const worker = new SqliteWorker({ databases, readOnly: config.read_only }, config.timeout_ms);
  return definePlugin({
    name: 'sqlite',
    description: 'Query configured SQLite databases.',
    tools: [queryTool(names, config, worker)],
    close: () => worker.close(),
  });
}
