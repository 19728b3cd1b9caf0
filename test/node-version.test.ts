// The project runs on Node 22.13+; a machine whose Node is older gets the
// pinned one in .node/ (scripts/node.mjs), and host/bin/mcp-edge.js hands a
// command started by the old Node over to it (Claude Desktop runs plain `node`).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { isRecentEnough, MIN_NODE, PINNED_NODE, PROJECT_NODE } from '../scripts/node.mjs';
import { VERSION } from '../host/src/version.js';
import { CLI, ROOT, tempDir } from './helpers/processes.js';

/** A Node on this machine older than the minimum (Debian 12's /usr/bin/node is 20), if any. */
function olderNode(): string | undefined {
  const candidate = '/usr/bin/node';
  if (!existsSync(candidate)) return undefined;
  const version = spawnSync(candidate, ['--version'], { encoding: 'utf8' }).stdout.trim();
  return isRecentEnough(version) ? undefined : candidate;
}
const OLD_NODE = olderNode();

/** The pids and command lines of `pid`'s children. */
function childrenOf(pid: number): { pid: number; args: string }[] {
  const out = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [, id = '', args = ''] = line.trim().match(/^(\d+)\s+(.*)$/) ?? [];
      return { pid: Number(id), args };
    });
}

const alive = (pid: number) => spawnSync('kill', ['-0', String(pid)]).status === 0;

describe('the Node mcp-edge runs on', () => {
  it('knows the minimum version, and package.json says the same', () => {
    const engines = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).engines.node;
    expect(engines).toBe(`>=${MIN_NODE.join('.')}`);
    expect(isRecentEnough('20.20.2')).toBe(false);
    expect(isRecentEnough('22.12.0')).toBe(false);
    expect(isRecentEnough('v22.13.0')).toBe(true);
    expect(isRecentEnough('23.0.0')).toBe(true);
    expect(isRecentEnough(PINNED_NODE.version)).toBe(true);
  });

  it('runs the test suite under a Node that is recent enough', () => {
    expect(isRecentEnough(process.versions.node), `running under ${process.versions.node}`).toBe(true);
  });
});

describe.skipIf(!OLD_NODE)(`host/bin/mcp-edge.js started by an older Node (${OLD_NODE})`, () => {
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
  });

  it('passes output and exit codes through', () => {
    expect(existsSync(PROJECT_NODE), 'setup brings .node/ when the machine Node is old').toBe(true);
    const version = spawnSync(OLD_NODE!, [CLI, 'version'], { encoding: 'utf8' });
    expect(version.stderr).toBe('');
    expect(version.stdout).toBe(`${VERSION}\n`);
    expect(version.status).toBe(0);
    const wrong = spawnSync(OLD_NODE!, [CLI, 'no-such-command'], { encoding: 'utf8' });
    expect(wrong.stderr).toMatch(/unknown command "no-such-command"/);
    expect(wrong.status).toBe(2);
  });

  it('serves MCP over stdio as Claude Desktop starts it, and the handed-over process ends with the client', async () => {
    const transport = new StdioClientTransport({
      command: OLD_NODE!,
      args: [CLI, 'stdio', '--data-dir', tempDir(), '--log-level', 'silent'],
      cwd: ROOT,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'node-handover-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    // The wrapper's child is the project's own Node running the same command.
    const [inner] = childrenOf(transport.pid!);
    expect(inner?.args).toMatch(/\/\.node\/bin\/node \S*\/host\/bin\/mcp-edge\.js stdio/);
    // A call that opens SQLite: its native addon is built for the project Node, not the old one.
    const result = await client.callTool({ name: 'queue_status', arguments: {} });
    expect(result.isError).toBeFalsy();
    await client.close();
    const deadline = Date.now() + 10_000;
    while (alive(inner!.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(inner!.pid), 'the project Node exits when the client closes').toBe(false);
  });
});
