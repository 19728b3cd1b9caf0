// The mcp-edge command line. `serve` runs the HTTP gateway; `stdio` speaks MCP
// on stdin/stdout for Claude Desktop and prints nothing else there.
import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ConfigError } from './config/load.js';
import { loadCliConfig, UsageError } from './commands/common.js';
import { KEYS_HELP, keysCommand } from './commands/keys.js';
import { AUDIT_HELP, auditCommand } from './commands/audit.js';
import { ApiKeyError } from './security/api-keys.js';
import { createGateway, type Gateway } from './gateway/gateway.js';
import { routesHelp } from './gateway/routes.js';
import { toolsCommand } from './commands/tools.js';
import { StorageError } from './storage/database.js';
import { createLogger, type LogLevel } from './telemetry/log.js';
import { VERSION } from './version.js';

const HELP = `mcp-edge ${VERSION}: a Model Context Protocol gateway for the edge

Usage:
  mcp-edge serve [options]   serve MCP over Streamable HTTP at http(s)://<bind>/mcp
  mcp-edge stdio [options]   serve MCP over stdin/stdout (for Claude Desktop)
  mcp-edge tools ...         review and approve changed upstream tool definitions
                             (tool pinning; "mcp-edge tools help" for more)
${KEYS_HELP}
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
      --log-level <level> debug | info | warn | error | silent (default info)

Signals: SIGHUP re-reads the TLS files (they are also re-read when they change);
SIGINT and SIGTERM stop the gateway.

Endpoints when serving (mcp-edge serve):
${routesHelp()}
`;

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

interface CliOptions {
  config?: string;
  bind?: string;
  'data-dir'?: string;
  'log-level'?: string;
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
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) return { command: 'help', options: values };
  if (values.version) return { command: 'version', options: values };
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  return { command: positionals[0] ?? 'help', options: values };
}


function logLevel(options: CliOptions): LogLevel {
  const level = options['log-level'] ?? 'info';
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  return level as LogLevel;
}

function stopOnSignals(gateway: Gateway): void {
  const stop = () => {
    gateway.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * SIGHUP re-reads the TLS files (certificates renewed) and logs what each
 * set of files did. The handler is installed before the gateway starts:
 * SIGHUP's default is to end the process, and a renewal hook may send it
 * at any time; one that comes while starting is answered once it runs.
 */
function reloadTlsOnHangup(): (gateway: Gateway) => void {
  let running: Gateway | undefined;
  let pending = false;
  const reload = (gateway: Gateway) => {
    gateway.reloadTls().then((report) => {
      const outcomes = Object.fromEntries(Object.entries(report).map(([files, r]) => [files, r.outcome]));
      gateway.log.info('SIGHUP: TLS files re-read', outcomes);
    }, (err: unknown) => gateway.log.error('SIGHUP: re-reading the TLS files failed', { error: String(err) }));
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
  const config = await loadCliConfig(options);
  const started = reloadTlsOnHangup();
  const gateway = await createGateway({ config, logger: createLogger(logLevel(options)) });
  started(gateway);
  stopOnSignals(gateway);
}

async function stdio(options: CliOptions): Promise<void> {
  const config = await loadCliConfig(options);
  const started = reloadTlsOnHangup();
  const gateway = await createGateway({ config, http: false, logger: createLogger(logLevel(options)) });
  started(gateway);
  const transport = new StdioServerTransport();
  transport.onclose = () => {
    gateway.close().finally(() => process.exit(0));
  };
  process.stdin.once('end', () => transport.close());
  await gateway.connect(transport);
  stopOnSignals(gateway);
}

/** Turns a startup failure into one clear line and an exit code. */
function explain(err: unknown): { message: string; code: number } {
  if (err instanceof UsageError) return { message: `${err.message}\nRun "mcp-edge help" for usage.`, code: 2 };
  if (err instanceof ConfigError) return { message: err.message, code: 2 };
  if (err instanceof StorageError || err instanceof ApiKeyError) return { message: err.message, code: 1 };
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

