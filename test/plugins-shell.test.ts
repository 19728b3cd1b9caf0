// The shell plugin with real child processes: allowlisted programs run with an
// argument array and no shell; everything else is refused, and runaway or
// chatty programs are killed at their limits.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ConfigError } from '../host/src/index.js';
import { call, connectClient, eventually, startGateway, textOf } from './helpers/plugin-gateway.js';
import { tempDir } from './helpers/processes.js';

const base = realpathSync(tempDir('mcp-edge-shell-'));
const root = join(base, 'work');
let client: Client;

beforeAll(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(base, 'outside'));
  symlinkSync(join(base, 'outside'), join(root, 'escape'));
  // A look-alike in the working directory must never run in place of the real echo.
  writeFileSync(join(root, 'echo'), '#!/bin/sh\necho hijacked\n');
  chmodSync(join(root, 'echo'), 0o755);
  process.env.MCP_EDGE_TEST_SECRET = 'do-not-pass';
  process.env.MCP_EDGE_TEST_VISIBLE = 'pass-me';
  const gateway = await startGateway({
    plugins: {
      shell: {
        enabled: true,
        commands: ['echo', 'cat', 'printenv', 'pwd', 'sleep', '/usr/bin/yes', { command: 'ls', args: ['-1', '-a', 'sub', 'sub/**'] }],
        roots: [root],
        // A relative entry (".") on PATH is ignored: it would make the working directory decide.
        path: '.:/usr/bin:/bin',
        env: ['MCP_EDGE_TEST_VISIBLE'],
        timeout_ms: 5000,
        max_output_bytes: 4096,
      },
    },
  });
  client = await connectClient(gateway);
});
afterAll(() => {
  delete process.env.MCP_EDGE_TEST_SECRET;
  delete process.env.MCP_EDGE_TEST_VISIBLE;
  rmSync(base, { recursive: true, force: true });
});

type Ran = { exit_code: number | null; stdout: string; stderr: string };
const ran = async (args: Record<string, unknown>): Promise<Ran> => {
  const result = await call(client, 'shell_run', args);
  expect(result.isError, textOf(result)).toBeFalsy();
  return result.structuredContent as Ran;
};

describe('shell plugin', () => {
  it('passes arguments literally: no shell, no expansion, no injection', async () => {
    const out = await ran({ command: 'echo', args: ['$(id)', ';', 'rm', '-rf', '*', '`whoami`', '$HOME', '|', 'cat'] });
    expect(out).toMatchObject({ exit_code: 0, stdout: '$(id) ; rm -rf * `whoami` $HOME | cat\n', stderr: '' });
  });

  it('runs the program found at start, not a look-alike in the working directory', async () => {
    expect((await ran({ command: 'echo', args: ['real'] })).stdout).toBe('real\n');
  });

  it('feeds stdin and reports a failing exit code with stderr', async () => {
    expect((await ran({ command: 'cat', stdin: 'from stdin' })).stdout).toBe('from stdin');
    const missing = await ran({ command: 'cat', args: ['no-such-file'] });
    expect(missing.exit_code).toBe(1);
    expect(missing.stderr).toMatch(/no-such-file: No such file or directory/);
  });

  it('passes only the allowed environment variables', async () => {
    const names = (await ran({ command: 'printenv' })).stdout.trim().split('\n').map((l) => l.split('=')[0]).sort();
    expect(names).toEqual(['MCP_EDGE_TEST_VISIBLE', 'PATH']);
  });

  it('refuses programs that are not on the allowlist, however they are spelled', async () => {
    for (const command of ['sh', 'bash', '/bin/sh', '/usr/bin/echo', './echo', '../work/echo', 'rm', 'echo ']) {
      const result = await call(client, 'shell_run', { command, args: ['-c', 'echo hi'] });
      expect(result.isError, command).toBe(true);
      expect(textOf(result)).toMatch(/^not_allowed: .* is not an allowed command\. Allowed: \/usr\/bin\/yes, cat, echo, ls, printenv, pwd, sleep\.$/);
    }
  });

  it('holds a command with argument rules to them, every argument', async () => {
    writeFileSync(join(root, 'sub', 'a.txt'), 'a');
    expect((await ran({ command: 'ls', args: ['-1', 'sub'] })).stdout).toBe('a.txt\n');
    expect((await ran({ command: 'ls', args: ['-1', 'sub/a.txt'] })).stdout).toBe('sub/a.txt\n');
    for (const args of [['-R'], ['-1', '/etc'], ['-1', 'sub', '--hide=x'], ['..']]) {
      const result = await call(client, 'shell_run', { command: 'ls', args });
      expect(result.isError, args.join(' ')).toBe(true);
      expect(textOf(result)).toMatch(/^not_allowed: Argument ".*" is not allowed for ls\. Each argument must match one of: "-1", "-a", "sub", "sub\/\*\*"\.$/);
    }
  });

  it('runs in a folder inside the roots and refuses ones outside', async () => {
    expect((await ran({ command: 'pwd' })).stdout).toBe(`${root}\n`);
    expect((await ran({ command: 'pwd', cwd: 'sub' })).stdout).toBe(`${join(root, 'sub')}\n`);
    for (const cwd of ['..', '/tmp', 'escape', join(base, 'outside')]) {
      const result = await call(client, 'shell_run', { command: 'pwd', cwd });
      expect(textOf(result), cwd).toMatch(/^outside_roots:/);
    }
    expect(textOf(await call(client, 'shell_run', { command: 'pwd', cwd: 'echo' }))).toMatch(/^not_a_file: echo is not a folder/);
  });

  it('kills a program that outlives its time limit', async () => {
    // An hour-long sleep: the answer only comes (the tool waits for the program's end) if the kill worked.
    const result = await call(client, 'shell_run', { command: 'sleep', args: ['3600'], timeout_ms: 300 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^timeout: sleep ran longer than 300 ms and was killed/);
  });

  it('kills a program that writes more than max_output_bytes, keeping the first part', async () => {
    // yes never ends by itself: the answer only comes if the kill worked.
    const result = await call(client, 'shell_run', { command: '/usr/bin/yes', args: ['edge'] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^output_too_large: \/usr\/bin\/yes wrote more than 4096 bytes and was killed/);
    expect(textOf(result)).toContain(`stdout (first 4096 chars):\n${'edge\n'.repeat(819)}e\nstderr:\n`);
  });

  it('kills programs still running when the plugin is removed (and so when the gateway closes)', async () => {
    const gateway = await startGateway({ plugins: { shell: { enabled: true, commands: ['sleep'], roots: [root] } } });
    const other = await connectClient(gateway);
    const pending = call(other, 'shell_run', { command: 'sleep', args: ['31.25'] });
    const running = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => /(^|\/)sleep 31\.25$/.test(l.trim()));
    await eventually(() => (running() ? true : undefined), 10_000, 'sleep 31.25 to start');
    // The session stays open: only the plugin's close can stop the program.
    expect(await gateway.plugins.remove('shell')).toBe(true);
    expect((await pending).structuredContent).toMatchObject({ exit_code: null, signal: 'SIGKILL' });
    expect(running()).toBe(false);
  });

  it('refuses to start with a command it cannot find or a relative path', async () => {
    const shell = { enabled: true, roots: [root] };
    await expect(startGateway({ plugins: { shell: { ...shell, commands: ['no-such-program-xyz'] } } })).rejects.toThrow(ConfigError);
    await expect(startGateway({ plugins: { shell: { ...shell, commands: ['bin/echo'] } } })).rejects.toThrow(/must be a bare name .* or an absolute path/);
    await expect(startGateway({ plugins: { shell: { ...shell, commands: [{ command: 'ls', args: ['{a,b'] }] } } })).rejects.toThrow(/ls: argument pattern "\{a,b" is not a valid glob/);
    await expect(startGateway({ plugins: { shell: { enabled: true, commands: ['echo'] } } })).rejects.toThrow(/plugins\.shell\.roots: list at least one folder/);
  });
});
