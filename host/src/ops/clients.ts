// Where each MCP client keeps its server list, and the entry that connects it
// to this gateway. `mcp-edge connect` (commands/connect.ts) merges the entry
// into the file and leaves everything else in it as it was.
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CLIENTS = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'windsurf'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** How the client reaches the gateway: it starts `mcp-edge stdio` itself, or it talks to a running one over HTTP. */
export type Connection = { kind: 'stdio'; command: string; args: string[] } | { kind: 'http'; url: string; token?: string };

export interface ClientSpec {
  /** For messages: "Claude Desktop". */
  title: string;
  /** The object of the file that maps server names to entries. */
  listKey: 'mcpServers' | 'servers';
  /** The file, for this platform and environment. */
  file(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string;
  /** The entry for one connection; a string when the client cannot take it (why, and what to do). */
  entry(connection: Connection): Record<string, unknown> | string;
}

const home = (env: NodeJS.ProcessEnv) => env.HOME || env.USERPROFILE || homedir();

/** Where Electron apps (Claude Desktop, VS Code) keep their per-user folders. */
function appData(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  if (platform === 'darwin') return join(home(env), 'Library', 'Application Support');
  if (platform === 'win32') return env.APPDATA || join(home(env), 'AppData', 'Roaming');
  return env.XDG_CONFIG_HOME || join(home(env), '.config');
}

const bearer = (token: string | undefined) => (token ? { headers: { Authorization: `Bearer ${token}` } } : {});

export const CLIENT_SPECS: Readonly<Record<ClientName, ClientSpec>> = {
  'claude-desktop': {
    title: 'Claude Desktop',
    listKey: 'mcpServers',
    file: (env, platform) => join(appData(env, platform), 'Claude', 'claude_desktop_config.json'),
    entry: (c) =>
      c.kind === 'stdio'
        ? { command: c.command, args: c.args }
        : "Claude Desktop's config file lists only servers it starts itself (stdio); a remote server is added in its Settings > Connectors. Leave out --http to have Claude Desktop start `mcp-edge stdio`.",
  },
  'claude-code': {
    title: 'Claude Code',
    listKey: 'mcpServers',
    // The user scope: every project of this user sees the server.
    file: (env) => join(home(env), '.claude.json'),
    entry: (c) => (c.kind === 'stdio' ? { type: 'stdio', command: c.command, args: c.args } : { type: 'http', url: c.url, ...bearer(c.token) }),
  },
  cursor: {
    title: 'Cursor',
    listKey: 'mcpServers',
    file: (env) => join(home(env), '.cursor', 'mcp.json'),
    entry: (c) => (c.kind === 'stdio' ? { command: c.command, args: c.args } : { url: c.url, ...bearer(c.token) }),
  },
  vscode: {
    title: 'VS Code',
    listKey: 'servers',
    file: (env, platform) => join(appData(env, platform), 'Code', 'User', 'mcp.json'),
    entry: (c) => (c.kind === 'stdio' ? { type: 'stdio', command: c.command, args: c.args } : { type: 'http', url: c.url, ...bearer(c.token) }),
  },
  windsurf: {
    title: 'Windsurf',
    listKey: 'mcpServers',
    file: (env) => join(home(env), '.codeium', 'windsurf', 'mcp_config.json'),
    entry: (c) => (c.kind === 'stdio' ? { command: c.command, args: c.args } : { serverUrl: c.url, ...bearer(c.token) }),
  },
};

export function isClientName(name: string): name is ClientName {
  return (CLIENTS as readonly string[]).includes(name);
}

/**
 * The file's text with `entry` under `listKey`.`name`; undefined when it is
 * already there as is. The file is edited where the entry goes, with its
 * comments, trailing commas and indentation (VS Code's files are JSON with
 * comments): the server list is laid out again, the rest stays as written.
 * jsonc-parser (VS Code's own) is loaded here, on the first use.
 * Throws a SyntaxError for a file that is not a JSON object.
 */
export async function mergeEntry(text: string | undefined, listKey: string, name: string, entry: Record<string, unknown>): Promise<string | undefined> {
  if (text === undefined || text.trim() === '') return JSON.stringify({ [listKey]: { [name]: entry } }, null, 2) + '\n';
  const { applyEdits, modify, parse, printParseErrorCode } = await import('jsonc-parser');
  const errors: import('jsonc-parser').ParseError[] = [];
  const root = parse(text, errors, { allowTrailingComma: true, disallowComments: false }) as unknown;
  const first = errors[0];
  if (first) throw new SyntaxError(`${printParseErrorCode(first.error)} at character ${first.offset}`);
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new SyntaxError('the file is JSON but not an object');
  const list = (root as Record<string, unknown>)[listKey] ?? {};
  if (typeof list !== 'object' || list === null || Array.isArray(list)) throw new SyntaxError(`"${listKey}" is not an object`);
  if (JSON.stringify((list as Record<string, unknown>)[name]) === JSON.stringify(entry)) return undefined;
  const indent = indentOf(text);
  const formattingOptions = { insertSpaces: !indent.includes('\t'), tabSize: indent.includes('\t') ? 1 : indent.length, eol: text.includes('\r\n') ? '\r\n' : '\n' };
  return applyEdits(text, modify(text, [listKey, name], entry, { formattingOptions }));
}

/** The indentation the file uses (two spaces when it shows none). */
function indentOf(text: string): string {
  return /\n([ \t]+)["/]/.exec(text)?.[1] ?? '  ';
}
