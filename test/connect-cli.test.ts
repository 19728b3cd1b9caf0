// mcp-edge connect against temporary home folders: the file each client reads
// is created or edited in place (every other key kept), backed up, left alone
// when already set up; --print and --dry-run write nothing; a file it cannot
// edit is refused untouched. The stdio entry it writes is then started the way
// the client would start it, and serves MCP.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parse as parseJsonc } from 'jsonc-parser';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { connectCommand, type ConnectIo } from '../host/src/commands/connect.js';
import { CLIENT_SPECS, CLIENTS, type ClientName } from '../host/src/ops/clients.js';
import { collect, spawnCli, tempDir, waitForExit } from './helpers/processes.js';

function io(home: string, at = '2026-12-05T18:00:00.000Z') {
  const out: string[] = [];
  const err: string[] = [];
  const value: ConnectIo = { out: (t) => out.push(t), err: (t) => err.push(t), env: { HOME: home }, platform: 'linux', now: () => new Date(at) };
  return { io: value, out: () => out.join(''), err: () => err.join('') };
}

const EXPECTED_FILES: Record<ClientName, string> = {
  'claude-desktop': '.config/Claude/claude_desktop_config.json',
  'claude-code': '.claude.json',
  cursor: '.cursor/mcp.json',
  vscode: '.config/Code/User/mcp.json',
  windsurf: '.codeium/windsurf/mcp_config.json',
};

const siblings = (file: string) => readdirSync(dirname(file)).filter((f) => f.startsWith(file.split('/').pop()!));

describe('mcp-edge connect writes each client its entry', () => {
  for (const client of CLIENTS) {
    it(`${client}: creates ${EXPECTED_FILES[client]}, then keeps everything else of an existing one and backs it up`, async () => {
      const home = tempDir();
      const file = join(home, EXPECTED_FILES[client]);
      const listKey = CLIENT_SPECS[client].listKey;
      // A file the user already has: another server and a key of the client's own.
      mkdirSync(dirname(file), { recursive: true });
      const original = JSON.stringify({ theme: 'dark', [listKey]: { other: { command: 'other-server' } } }, null, 4);
      writeFileSync(file, original);
      const run = io(home);
      expect(await connectCommand([client], run.io)).toBe(0);
      const written = JSON.parse(readFileSync(file, 'utf8'));
      expect(written.theme).toBe('dark');
      expect(written[listKey].other).toEqual({ command: 'other-server' });
      const entry = written[listKey]['mcp-edge'];
      expect(entry.command).toBe(process.execPath);
      expect(entry.args.slice(-1)).toEqual(['stdio']);
      expect(entry.args[0]).toMatch(/host\/bin\/mcp-edge\.js$/);
      expect(readFileSync(file, 'utf8')).toMatch(/^\{\n {4}"theme"/); // the file's own indentation
      const backups = siblings(file).filter((f) => f.endsWith('.bak'));
      expect(backups).toEqual([`${file.split('/').pop()}.20261205T180000Z.bak`]);
      expect(readFileSync(join(dirname(file), backups[0]!), 'utf8')).toBe(original);
      expect(run.err()).toMatch(/Restart .* to pick it up/);

      // Twice is once: nothing written, no second backup.
      const again = io(home, '2026-12-05T19:00:00.000Z');
      const text = readFileSync(file, 'utf8');
      expect(await connectCommand([client], again.io)).toBe(0);
      expect(again.err()).toMatch(/already has "mcp-edge" set up this way/);
      expect(readFileSync(file, 'utf8')).toBe(text);
      expect(siblings(file).filter((f) => f.endsWith('.bak'))).toHaveLength(1);
    });
  }

  it('creates the file and its folders when the client has none, without a backup', async () => {
    const home = tempDir();
    expect(await connectCommand(['cursor', '--name', 'edge'], io(home).io)).toBe(0);
    const file = join(home, '.cursor/mcp.json');
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).mcpServers)).toEqual(['edge']);
    expect(siblings(file)).toEqual(['mcp.json']);
  });

  it("edits a file with comments and trailing commas (VS Code's JSON): its comments and everything outside the server list kept", async () => {
    const home = tempDir();
    const file = join(home, EXPECTED_FILES.vscode);
    mkdirSync(dirname(file), { recursive: true });
    const original = '{\n\t// servers I use\n\t"servers": {\n\t\t"other": { "command": "x" }, // keep me\n\t},\n\t/* prompts */ "inputs": [],\n}\n';
    writeFileSync(file, original);
    expect(await connectCommand(['vscode'], io(home).io)).toBe(0);
    const written = readFileSync(file, 'utf8');
    // The list it edits is laid out again (as VS Code's own settings editor does); what is outside it stays as written.
    for (const kept of ['{\n\t// servers I use\n\t"servers": {\n', '// keep me\n', '\t},\n\t/* prompts */ "inputs": [],\n}\n']) expect(written).toContain(kept);
    expect(written).toMatch(/\n\t\t"mcp-edge": \{\n\t\t\t"type": "stdio",/);
    const parsed = parseJsonc(written) as { servers: Record<string, { type?: string; command: string }> };
    expect(Object.keys(parsed.servers)).toEqual(['other', 'mcp-edge']);
    expect(parsed.servers['mcp-edge']!.command).toBe(process.execPath);
    expect(await connectCommand(['vscode'], io(home, '2026-12-05T19:00:00.000Z').io)).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(written);
  });

  it('edits what a symbolic link points to and keeps the link (a dotfiles repository)', async () => {
    const home = tempDir();
    const dotfiles = join(tempDir(), 'dotfiles');
    mkdirSync(dotfiles);
    const real = join(dotfiles, 'cursor-mcp.json');
    writeFileSync(real, JSON.stringify({ mcpServers: { other: { command: 'x' } } }, null, 2));
    mkdirSync(join(home, '.cursor'));
    const link = join(home, '.cursor/mcp.json');
    symlinkSync(real, link);
    expect(await connectCommand(['cursor'], io(home).io)).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(Object.keys(JSON.parse(readFileSync(real, 'utf8')).mcpServers)).toEqual(['other', 'mcp-edge']);
    expect(readdirSync(dotfiles)).toEqual(['cursor-mcp.json', 'cursor-mcp.json.20261205T180000Z.bak']);
  });

  it('over HTTP: the URL of the configured listener and the token as a Bearer header, in each client\'s own field names', async () => {
    const dir = tempDir();
    const config = join(dir, 'mcp-edge.toml');
    writeFileSync(config, '[gateway]\nbind_address = "0.0.0.0:9443"\n[auth]\napi_keys = true\n');
    const home = tempDir();
    const refused = connectCommand(['vscode', '--http', '-c', config], io(home).io);
    await expect(refused).rejects.toThrow(/asks for credentials .*--token/);
    expect(existsSync(join(home, EXPECTED_FILES.vscode))).toBe(false);
    const withToken = ['--http', '-c', config, '--token', 'mcp_secret'];
    await connectCommand(['vscode', ...withToken], io(home).io);
    expect(JSON.parse(readFileSync(join(home, EXPECTED_FILES.vscode), 'utf8')).servers['mcp-edge']).toEqual({
      type: 'http',
      url: 'http://127.0.0.1:9443/mcp',
      headers: { Authorization: 'Bearer mcp_secret' },
    });
    await connectCommand(['windsurf', ...withToken], io(home).io);
    expect(JSON.parse(readFileSync(join(home, EXPECTED_FILES.windsurf), 'utf8')).mcpServers['mcp-edge'].serverUrl).toBe('http://127.0.0.1:9443/mcp');
    await expect(connectCommand(['claude-desktop', ...withToken], io(home).io)).rejects.toThrow(/Connectors.*Leave out --http/);
  });

  it('--print prints the entry and --dry-run the whole new file; neither writes anything', async () => {
    const home = tempDir();
    const printed = io(home);
    await connectCommand(['claude-code', '--print'], printed.io);
    expect(JSON.parse(printed.out()).mcpServers['mcp-edge'].type).toBe('stdio');
    const file = join(home, '.cursor/mcp.json');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '{"mcpServers":{}}');
    const dry = io(home);
    await connectCommand(['cursor', '--dry-run'], dry.io);
    expect(JSON.parse(dry.out()).mcpServers['mcp-edge'].args).toContain('stdio');
    expect(dry.err()).toMatch(/Dry run: .* would be replaced/);
    expect(readFileSync(file, 'utf8')).toBe('{"mcpServers":{}}');
    expect(siblings(file)).toEqual(['mcp.json']);
  });

  it('refuses a file that is not JSON (exit 1) and leaves it as it was, with no backup', async () => {
    const home = tempDir();
    const file = join(home, '.codeium/windsurf/mcp_config.json');
    mkdirSync(dirname(file), { recursive: true });
    // Not JSON even with comments allowed (a comment alone is fine now: the test above).
    writeFileSync(file, '{ "mcpServers": { "old": } }');
    const child = spawnCli(['connect', 'windsurf'], { HOME: home, XDG_CONFIG_HOME: '' });
    const err = collect(child.stderr);
    expect(await waitForExit(child)).toBe(1);
    expect(err.text()).toMatch(/mcp_config\.json is not a JSON object .* nothing was changed/);
    expect(readFileSync(file, 'utf8')).toBe('{ "mcpServers": { "old": } }');
    expect(siblings(file)).toEqual(['mcp_config.json']);
  });

  it('answers an unknown client with exit 2 and the clients it knows', async () => {
    const child = spawnCli(['connect', 'emacs'], { HOME: tempDir() });
    const err = collect(child.stderr);
    expect(await waitForExit(child)).toBe(2);
    expect(err.text()).toMatch(/unknown client "emacs"; mcp-edge connect knows claude-desktop, claude-code, cursor, vscode, windsurf/);
  });

  it('writes a stdio entry that, started as the client starts it, serves MCP', async () => {
    const home = tempDir();
    const data = join(tempDir(), 'data');
    await connectCommand(['claude-desktop', '--data-dir', data], io(home).io);
    const entry = JSON.parse(readFileSync(join(home, EXPECTED_FILES['claude-desktop']), 'utf8')).mcpServers['mcp-edge'];
    const client = new Client({ name: 'as-claude-desktop', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: entry.command, args: entry.args, env: { HOME: home, PATH: process.env.PATH ?? '' }, stderr: 'ignore' }));
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('count_tokens');
      expect(existsSync(join(data, 'mcp-edge.db'))).toBe(true);
    } finally {
      await client.close();
    }
  });
});
