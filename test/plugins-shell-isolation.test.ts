// The shell plugin against the probes of issue 12: an allowlisted script that
// starts a detached child (setsid sleep &) must neither hang its call nor
// outlive it or the gateway, and a command must not read the gateway's
// environment through /proc. Real scripts, real processes; every sleep carries
// a unique duration so the test can find it in the process table.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { call, connectClient, eventually, startGateway, textOf } from './helpers/plugin-gateway.js';
import { startServeCli, tempDir, waitForExit } from './helpers/processes.js';

const base = realpathSync(tempDir('mcp-edge-shell-iso-'));
const root = join(base, 'work');
const marker = String(Date.now() % 100_000).padStart(5, '0');
/** A sleep only this test file starts: `sleep 3NN.<marker>`. */
const sleepOf = (n: number) => `3${String(n).padStart(2, '0')}.${marker}`;

/** Whether a `sleep <duration>` is alive (a zombie has no arguments left to match). */
function sleeping(duration: string): boolean {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .some((line) => line.trim().endsWith(`sleep ${duration}`));
}

function script(name: string, body: string): string {
  const path = join(root, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const scripts: Record<string, string> = {};
beforeAll(() => {
  mkdirSync(root, { recursive: true });
  // The probe: the script ends at once, its detached child keeps the output pipes open.
  scripts.detach = script('detach.sh', `setsid sleep ${sleepOf(1)} &\necho started`);
  // A child that detaches and lets go of the pipes too: only a namespace can still reach it.
  scripts.vanish = script('vanish.sh', `setsid sleep ${sleepOf(2)} </dev/null >/dev/null 2>&1 &\necho started`);
  // Never ends by itself, with a detached child beside it: only the time limit ends the call.
  scripts.linger = script('linger.sh', `setsid sleep ${sleepOf(3)} &\nexec sleep ${sleepOf(4)}`);
  scripts.detachNone = script('detach-none.sh', `setsid sleep ${sleepOf(5)} &\necho started`);
  scripts.lingerNone = script('linger-none.sh', `setsid sleep ${sleepOf(6)} &\nexec sleep ${sleepOf(7)}`);
  scripts.orphan = script('orphan.sh', `setsid sleep ${sleepOf(8)} &\nsleep ${sleepOf(9)}`);
  process.env.MCP_EDGE_TEST_SECRET = 'gateway-secret-value';
});
afterAll(() => {
  delete process.env.MCP_EDGE_TEST_SECRET;
  rmSync(base, { recursive: true, force: true });
});

async function shellClient(isolation: 'pid-namespace' | 'none', commands: string[]) {
  const gateway = await startGateway({ plugins: { shell: { enabled: true, commands, roots: [root], timeout_ms: 1500, isolation } } });
  return connectClient(gateway);
}

describe('probe: shell, an allowlisted script that starts a detached child (setsid sleep &)', () => {
  it('returns when the script ends, and the detached child is gone (pid-namespace)', async () => {
    const client = await shellClient('pid-namespace', [scripts.detach!, scripts.vanish!]);
    const result = await call(client, 'shell_run', { command: scripts.detach! });
    expect(result.structuredContent).toMatchObject({ exit_code: 0, stdout: 'started\n' });
    expect(sleeping(sleepOf(1))).toBe(false);
    const vanished = await call(client, 'shell_run', { command: scripts.vanish! });
    expect(vanished.structuredContent).toMatchObject({ exit_code: 0, stdout: 'started\n' });
    expect(sleeping(sleepOf(2))).toBe(false);
  });

  it('ends at the time limit with the whole tree killed, detached child included (pid-namespace)', async () => {
    const client = await shellClient('pid-namespace', [scripts.linger!]);
    const result = await call(client, 'shell_run', { command: scripts.linger! });
    expect(textOf(result)).toMatch(/^timeout: .*linger\.sh ran longer than 1500 ms and was killed/);
    expect(sleeping(sleepOf(3))).toBe(false);
    expect(sleeping(sleepOf(4))).toBe(false);
  });

  it('returns when the script ends, killing what still holds its output (isolation "none")', async () => {
    const client = await shellClient('none', [scripts.detachNone!, scripts.lingerNone!]);
    const result = await call(client, 'shell_run', { command: scripts.detachNone! });
    expect(result.structuredContent).toMatchObject({ exit_code: 0, stdout: 'started\n' });
    expect(sleeping(sleepOf(5))).toBe(false);
    const lingering = await call(client, 'shell_run', { command: scripts.lingerNone! });
    expect(textOf(lingering)).toMatch(/^timeout: /);
    expect(sleeping(sleepOf(6))).toBe(false);
    expect(sleeping(sleepOf(7))).toBe(false);
  });

  it('leaves nothing behind when the gateway is killed (kill -9) during the call', async () => {
    const config = join(base, 'gateway.toml');
    writeFileSync(config, `[plugins.shell]\nenabled = true\ncommands = [${JSON.stringify(scripts.orphan)}]\nroots = [${JSON.stringify(root)}]\ntimeout_ms = 600000\n`);
    const { child, url } = await startServeCli(['--config', config]);
    const client = new Client({ name: 'orphan-probe', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    const pending = client.callTool({ name: 'shell_run', arguments: { command: scripts.orphan } }).catch((err: unknown) => err);
    await eventually(() => (sleeping(sleepOf(8)) && sleeping(sleepOf(9)) ? true : undefined), 10_000, 'both sleeps to start');
    child.kill('SIGKILL');
    await waitForExit(child);
    // The parent-death signal and the namespace end them; nothing else is left to do it.
    await eventually(() => (!sleeping(sleepOf(8)) && !sleeping(sleepOf(9)) ? true : undefined), 10_000, 'both sleeps to die with the gateway');
    await pending;
    await client.close().catch(() => undefined);
  });
});

describe("probe: shell, cat /proc/<gateway pid>/environ prints the gateway's secrets", () => {
  it('finds no such file: a command sees only its own PID namespace', async () => {
    const client = await shellClient('pid-namespace', ['cat', 'ls']);
    const result = (await call(client, 'shell_run', { command: 'cat', args: [`/proc/${process.pid}/environ`, '/proc/1/environ'] })) as CallToolResult;
    const out = result.structuredContent as { stdout: string; stderr: string };
    expect(out.stderr).toContain(`/proc/${process.pid}/environ: No such file or directory`);
    expect(out.stdout + out.stderr).not.toContain('gateway-secret-value');
    // Process 1 is cat itself: its environment is only what plugins.shell.env passes.
    expect(out.stdout.split('\0').filter(Boolean).map((v) => v.split('=')[0])).toEqual(['PATH', 'LANG', 'LC_ALL', 'TZ'].filter((n) => n === 'PATH' || process.env[n] !== undefined));
    const processes = ((await call(client, 'shell_run', { command: 'ls', args: ['/proc'] })).structuredContent as { stdout: string }).stdout
      .split('\n')
      .filter((name) => /^\d+$/.test(name));
    expect(processes).toEqual(['1']);
  });
});
