// What every mcp-edge subcommand shares: the config it reads (file and
// command-line overrides) and the usage error that exits with code 2.
import { loadConfigFile } from '../config/load.js';
import type { EdgeConfig } from '../config/schema.js';
import type { resolveSettings } from '../config/resolve.js';
import { MCP_PATH } from '../gateway/routes.js';

/** The command line was wrong: the message says how; the process exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ConfigOptions {
  config?: string;
  bind?: string;
  'data-dir'?: string;
}

/** The parseArgs options every command that reads the config takes. */
export const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  'data-dir': { type: 'string', short: 'd' },
} as const;

/** The config file, with the command line's overrides (validated again when the gateway starts). */
export async function loadCliConfig(options: ConfigOptions): Promise<EdgeConfig> {
  const explicit = options.config ?? process.env.MCP_EDGE_CONFIG;
  const path = explicit ?? 'mcp-edge.toml';
  const config = await loadConfigFile(path, { required: explicit !== undefined });
  if (options.bind) config.gateway.bind_address = options.bind;
  if (options['data-dir']) config.gateway.data_dir = options['data-dir'];
  return config;
}

/** The MCP URL of the configured listener; a wildcard bind is reached on loopback. */
export function gatewayMcpUrl(settings: ReturnType<typeof resolveSettings>): string {
  const host = ['0.0.0.0', '::', '[::]'].includes(settings.http.host) ? '127.0.0.1' : settings.http.host;
  const scheme = settings.http.tls ? 'https' : 'http';
  return `${scheme}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${settings.http.port}${MCP_PATH}`;
}
