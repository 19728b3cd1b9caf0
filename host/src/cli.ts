// The mcp-edge command line. `serve` runs the HTTP gateway; `stdio` speaks MCP
// on stdin/stdout for Claude Desktop and prints nothing else there.
import { parseArgs } from 'node:util';
import { ConfigError } from './config/load.js';
import { loadCliConfig, UsageError } from './commands/common.js';
import { KEYS_HELP, keysCommand } from './commands/keys.js';
import { TPM_HELP, tpmCommand } from './commands/tpm.js';
import { TpmError } from './security/tpm/errors.js';
import { CONNECT_HELP, ClientConfigError, connectCommand } from './commands/connect.js';
import { AUDIT_HELP, auditCommand } from './commands/audit.js';
import { ApiKeyError } from './security/api-keys.js';
import { createGateway, type Gateway } from './gateway/gateway.js';
import { routesHelp } from './gateway/routes.js';
import { toolsCommand } from './commands/tools.js';
import { StorageError } from './storage/database.js';
import { MeshError } from './mesh/errors.js';
import { MESH_HELP, meshCommand } from './commands/mesh.js';
import type { EdgeConfig } from './config/schema.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormatChoice, type LogLevel } from './telemetry/log.js';
import { VERSION } from './version.js';
import { serveStdio } from './commands/stdio.js';

const HELP = `mcp-edge ${VERSION}: a Model Context Protocol gateway for the edge

Usage:
  mcp-edge serve [options]   serve MCP over Streamable HTTP at http(s)://<bind>/mcp
  mcp-edge stdio [options]   serve MCP over stdin/stdout (for Claude Desktop)
  mcp-edge tools ...         review and approve changed upstream tool definitions
                             (tool pinning; "mcp-edge tools help" for more)
${KEYS_HELP}
${MESH_HELP}
${TPM_HELP}
${CONNECT_HELP}
${AUDIT_HELP}
  mcp-edge version           print the version
  mcp-edge help              print this help

Options:
  -c, --config <file>     mcp-edge.toml to read (default: $MCP_EDGE_CONFIG, else
                          ./mcp-edge.toml when present, else built-in defaults)
  -b, --bind <host:port>  listen address (default 127.0.0.1:8080); HTTPS when
                          security.tls_cert and tls_key are set
  -d, --data-dir <dir>    where the SQLite database lives
                          (default: $MCP_EDGE_DATA_DIR, else ~/.local/share/mcp-edge)
      --log-level <level> debug | info | warn | error | silent (default: $MCP_EDGE_LOG_LEVEL,
                          else [log] level, else info)
      --log-format <fmt>  json | pretty | auto (default: $MCP_EDGE_LOG_FORMAT, else [log]
                          format, else pretty; auto: pretty on a terminal, json otherwise)

Logs go to stderr only. POST /v1/log {"level": ...} changes the level while serving.

Signals: SIGHUP re-reads the TLS files (they are also re-read when they change)
and the config file's [power] and [log] sections (the rest of the config needs
a restart); SIGINT and SIGTERM stop the gateway.

Endpoints when serving (mcp-edge serve):
${routesHelp()}
`;

interface CliOptions {
  config?: string;
  bind?: string;
  'data-dir'?: string;
  'log-level'?: string;
  'log-format'?: string;
}

function parse(argv: string[]): { command: string; options: CliOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      bind: { type: 'string', short: 'b' },
      'data-dir': { type: 'string', short: 'd' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) return { command: 'help', options: values };
  if (values.version) return { command: 'version', options: values };
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  return { command: positionals[0] ?? 'help', options: values };
}


/** A log setting from the command line, else the environment, checked; undefined when neither sets it. */
function chosen<T extends string>(flag: string | undefined, envName: string, allowed: readonly T[], option: string): T | undefined {
  const fromEnv = process.env[envName];
  const value = flag ?? (fromEnv === '' ? undefined : fromEnv);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag !== undefined ? option : envName} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** The config file with the command line's overrides; --log-level and --log-format (or their variables) win over [log]. */
async function loadServeConfig(options: CliOptions): Promise<EdgeConfig> {
  const level = chosen<LogLevel>(options['log-level'], 'MCP_EDGE_LOG_LEVEL', LOG_LEVELS, '--log-level');
  const format = chosen<LogFormatChoice>(options['log-format'], 'MCP_EDGE_LOG_FORMAT', LOG_FORMATS, '--log-format');
  const config = await loadCliConfig(options);
  if (level !== undefined) config.log.level = level;
  if (format !== undefined) config.log.format = format;
  return config;
}

function stopOnSignals(gateway: Gateway): void {
  const stop = () => {
    gateway.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** SIGHUP's second part: the config file's [power] and [log] sections, applied; a config that does not load changes nothing. */
async function reloadPower(gateway: Gateway, options: CliOptions): Promise<void> {
  try {
    const config = await loadServeConfig(options);
    gateway.reloadPower(config);
    gateway.reloadLog(config);
    const { mode, why } = gateway.power.status();
    gateway.log.info('SIGHUP: [power] re-read', { mode, why });
    const { level, format } = gateway.logs.status();
    gateway.log.info('SIGHUP: [log] re-read', { level, format });
  } catch (err) {
    gateway.log.error('SIGHUP: the config could not be re-read; power settings unchanged', { error: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * SIGHUP re-reads the TLS files (certificates renewed) and the [power]
 * section, and logs what each set of files did. The handler is installed before the gateway starts:
 * SIGHUP's default is to end the process, and a renewal hook may send it
 * at any time; one that comes while starting is answered once it runs.
 */
function reloadOnHangup(options: CliOptions): (gateway: Gateway) => void {
  let running: Gateway | undefined;
  let pending = false;
  const reload = (gateway: Gateway) => {
    gateway.reloadTls().then((report) => {
      const outcomes = Object.fromEntries(Object.entries(report).map(([files, r]) => [files, r.outcome]));
      gateway.log.info('SIGHUP: TLS files re-read', outcomes);
    }, (err: unknown) => gateway.log.error('SIGHUP: re-reading the TLS files failed', { error: String(err) }));
    void reloadPower(gateway, options);
  };
  process.on('SIGHUP', () => {
    if (running) reload(running);
    else pending = true;
  });
  return (gateway) => {
    running = gateway;
    if (pending) reload(gateway);
  };
}

async function serve(options: CliOptions): Promise<void> {
  const config = await loadServeConfig(options);
  const started = reloadOnHangup(options);
  // The gateway applies [log] (with the overrides above) to it before its first line.
  const gateway = await createGateway({ config, logger: createLogger() });
  started(gateway);
  stopOnSignals(gateway);
}

async function stdio(options: CliOptions): Promise<void> {
  const config = await loadServeConfig(options);
  const started = reloadOnHangup(options);
  const gateway = await createGateway({ config, http: false, logger: createLogger() });
  started(gateway);
  // Over stdio there is no /health to ask, and a client reads tools/list once at start: it gets every upstream that comes up.
  await gateway.ready();
  await serveStdio(gateway, () => {
    gateway.close().finally(() => process.exit(0));
  });
  stopOnSignals(gateway);
}

/** Turns a startup failure into one clear line and an exit code. */
function explain(err: unknown): { message: string; code: number } {
  if (err instanceof UsageError) return { message: `${err.message}\nRun "mcp-edge help" for usage.`, code: 2 };
  if (err instanceof ConfigError) return { message: err.message, code: 2 };
  if (err instanceof StorageError || err instanceof ApiKeyError || err instanceof MeshError || err instanceof TpmError || err instanceof ClientConfigError) return { message: err.message, code: 1 };
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return { message: 'The listen address is already in use. Stop the other process, or pass --bind 127.0.0.1:<another port>.', code: 1 };
  if (code === 'EACCES') return { message: 'Permission denied while starting (a port below 1024 or an unwritable folder?).', code: 1 };
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return { message: `${(err as Error).message}\nRun "mcp-edge help" for usage.`, code: 2 };
  return { message: (err as Error).stack ?? String(err), code: 1 };
}

export async function main(argv: string[]): Promise<void> {
  try {
    // Subcommands with their own arguments parse them themselves.
    if (argv[0] === 'tools') {
      process.exitCode = await toolsCommand(argv.slice(1));
      return;
    }
    if (argv[0] === 'keys') return await keysCommand(argv.slice(1));
    if (argv[0] === 'mesh') return await meshCommand(argv.slice(1));
    if (argv[0] === 'tpm') return await tpmCommand(argv.slice(1));
    if (argv[0] === 'connect') {
      process.exitCode = await connectCommand(argv.slice(1));
      return;
    }
    if (argv[0] === 'audit') {
      process.exitCode = await auditCommand(argv.slice(1));
      return;
    }
    const { command, options } = parse(argv);
    switch (command) {
      case 'serve':
        return await serve(options);
      case 'stdio':
        return await stdio(options);
      case 'version':
        process.stdout.write(`${VERSION}\n`);
        return;
      case 'help':
        process.stdout.write(HELP);
        return;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    const { message, code } = explain(err);
    process.stderr.write(`mcp-edge: ${message}\n`);
    process.exit(code);
  }
}

