// mcp-edge connect <client>: adds this gateway to an MCP client's config file
// (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf). The client starts
// `mcp-edge stdio` itself, or with --http talks to a running gateway. Every
// other entry and key of the file is kept; the old file is backed up next to
// it; running it twice changes nothing the second time.
import { copyFileSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveSettings } from '../config/resolve.js';
import { CLIENT_SPECS, CLIENTS, isClientName, mergeEntry, type ClientSpec, type Connection } from '../ops/clients.js';
import { CONFIG_OPTIONS, gatewayMcpUrl, loadCliConfig, UsageError, type ConfigOptions } from './common.js';

export const CONNECT_HELP = `  mcp-edge connect <${CLIENTS.join('|')}>
                  [--http [--url <url>] [--token <key>]] [--name <name>] [--print | --dry-run]
                             add this gateway to the client's MCP config file
                             (stdio by default; the old file is backed up)`;

/** The file could not be read or written: the message says which and why; exit code 1. */
export class ClientConfigError extends Error {
  override readonly name = 'ClientConfigError';
}

export interface ConnectIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  now: () => Date;
}

const processIo: ConnectIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env, platform: process.platform, now: () => new Date() };

/** This installation's command-line entry point (host/bin/mcp-edge.js), from host/src/commands or host/dist/commands alike. */
const BIN = fileURLToPath(new URL('../../bin/mcp-edge.js', import.meta.url));

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...CONFIG_OPTIONS,
        http: { type: 'boolean' },
        url: { type: 'string' },
        token: { type: 'string' },
        name: { type: 'string' },
        print: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

type Values = ReturnType<typeof parse>['values'];

/** How the client will reach the gateway. */
async function connectionOf(values: Values, env: NodeJS.ProcessEnv): Promise<Connection> {
  if (!values.http) {
    if (values.url !== undefined || values.token !== undefined) throw new UsageError('--url and --token go with --http (over stdio the client starts the gateway itself and needs neither)');
    const args = [BIN, 'stdio'];
    if (values.config !== undefined) args.push('--config', resolve(values.config));
    if (values['data-dir'] !== undefined) args.push('--data-dir', resolve(values['data-dir']));
    return { kind: 'stdio', command: process.execPath, args };
  }
  const settings = resolveSettings(await loadCliConfig(values as ConfigOptions), env);
  const token = values.token ?? env.MCP_EDGE_TOKEN;
  const authOn = settings.auth.apiKeys || settings.auth.jwt !== undefined;
  if (authOn && !token) throw new UsageError('this gateway asks for credentials ([auth]): pass --token <key> (make one with "mcp-edge keys create <name>") or set MCP_EDGE_TOKEN');
  return { kind: 'http', url: values.url ?? gatewayMcpUrl(settings), ...(token ? { token } : {}) };
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ClientConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The backup's name: the file's, with the time (to the second) it was replaced. */
function backupName(file: string, now: Date): string {
  return `${file}.${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.bak`;
}

/**
 * Replaces `file` with `text`: the old one copied aside first, the new one
 * renamed into place (never half written), its mode kept. A `file` that is a
 * symbolic link (a dotfiles repository's) stays one: what it points to is
 * replaced; renamed onto the link, the new file took the link's place.
 */
function replaceFile(link: string, before: string | undefined, text: string, now: Date): string | undefined {
  const file = before !== undefined ? realpathSync(link) : link;
  mkdirSync(dirname(file), { recursive: true });
  const backup = before !== undefined ? backupName(file, now) : undefined;
  const mode = before !== undefined ? statSync(file).mode & 0o777 : 0o600;
  if (backup) copyFileSync(file, backup);
  const temp = `${file}.mcp-edge-${process.pid}.tmp`;
  writeFileSync(temp, text, { mode });
  renameSync(temp, file);
  return backup;
}

/** Runs `mcp-edge connect <client> ...`; resolves with the exit code. */
export async function connectCommand(argv: string[], io: ConnectIo = processIo): Promise<number> {
  const { values, positionals } = parse(argv);
  const [client, ...extra] = positionals;
  if (client === undefined) throw new UsageError(`name the client:\n${CONNECT_HELP}`);
  if (!isClientName(client)) throw new UsageError(`unknown client "${client}"; mcp-edge connect knows ${CLIENTS.join(', ')}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (values.print && values['dry-run']) throw new UsageError('--print and --dry-run are two ways of writing nothing: choose one');
  const spec: ClientSpec = CLIENT_SPECS[client];
  const entry = spec.entry(await connectionOf(values, io.env));
  if (typeof entry === 'string') throw new UsageError(entry);
  const name = values.name ?? 'mcp-edge';
  if (values.print) {
    io.out(JSON.stringify({ [spec.listKey]: { [name]: entry } }, null, 2) + '\n');
    return 0;
  }
  const file = spec.file(io.env, io.platform);
  const before = readIfPresent(file);
  let after: string | undefined;
  try {
    after = await mergeEntry(before, spec.listKey, name, entry);
  } catch (err) {
    throw new ClientConfigError(`${file} is not a JSON object with "${spec.listKey}" as mcp-edge can edit (${(err as Error).message}); nothing was changed. Fix or move the file, or add the entry by hand (mcp-edge connect ${client} --print shows it).`);
  }
  if (after === undefined) {
    io.err(`${spec.title} already has "${name}" set up this way in ${file}; nothing changed.\n`);
    return 0;
  }
  if (values['dry-run']) {
    io.out(after);
    io.err(`Dry run: ${file} would ${before === undefined ? 'be created' : 'be replaced (with a backup)'} with the text above; nothing was written.\n`);
    return 0;
  }
  let backup: string | undefined;
  try {
    backup = replaceFile(file, before, after, io.now());
  } catch (err) {
    throw new ClientConfigError(`cannot write ${file}: ${(err as Error).message}`);
  }
  io.err(`Added "${name}" to ${file}${backup ? ` (the previous file is kept as ${backup})` : ''}. Restart ${spec.title} to pick it up.\n`);
  return 0;
}
