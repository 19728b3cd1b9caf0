// A stdio upstream whose process leaves a helper behind that holds its stdout
// and stderr (a detached child, as a server's daemon would be).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, eventually, NODE, startGateway, textOf } from './helpers/gateway.js';
import { isAlive, ROOT, tempDir } from './helpers/processes.js';

const ORPHAN = join(ROOT, 'test/fixtures/orphan-server.mjs');

/** A file the fixture's processes write their helpers' pids to (ORPHAN_PID_FILE); the helpers left are killed after the file's tests. */
function helperPids(): { file: string; pids: () => number[] } {
  const file = join(tempDir('mcp-edge-orphans-'), 'helpers');
  const pids = (): number[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  afterAll(() => {
    for (const pid of pids()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  return { file, pids };
}

/** The text of `name` (whoami) once a process other than the one that answered `first` answers it. */
function answerFromNewProcess(client: Client, name: string, first: string): Promise<string> {
  return eventually(async () => {
    const text = await client.callTool({ name }).then(textOf, () => undefined);
    return text !== undefined && text !== first && /^\d+$/.test(text) ? text : undefined;
  }, 20_000, 'an answer from a new process');
}

const { file: pidFile, pids: helpers } = helperPids();

describe('a stdio upstream that leaves a process behind', () => {
  it('is seen down when its process exits, and restarted, though its helper holds its output', async () => {
    const gateway = await startGateway({ upstreams: [{ id: 'orphan', transport: 'stdio', command: NODE, args: [ORPHAN], env: { ORPHAN_PID_FILE: pidFile } }] });
    const client = await connectClient(gateway);
    await eventually(async () => ((await client.listTools()).tools.some((t) => t.name === 'orphan__whoami' || t.name === 'whoami') ? true : undefined), 15_000, 'the upstream listed');
    const name = (await client.listTools()).tools.find((t) => t.name.endsWith('whoami'))!.name;
    const first = textOf(await client.callTool({ name }));
    // The call in flight when the process dies fails at once, not at its time limit (the default, 60 s).
    const started = Date.now();
    const crashed = await client.callTool({ name: name.replace('whoami', 'crash') }).then(
      (result) => (result.isError ? textOf(result) : 'answered'),
      (err: Error) => err.message,
    );
    expect(crashed).toMatch(/closed|exited|unavailable/i);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The premise: what the process left behind still runs, holding its output.
    expect(isAlive(helpers()[0]!)).toBe(true);
    const second = await answerFromNewProcess(client, name, first);
    expect(second).not.toBe(first);
    await gateway.close();
  }, 60_000);
});

describe('a stdio upstream whose helper stays in its process group', () => {
  // The child was spawned into the gateway's own group: what it started outlived it (a crash, a
  // restart, the gateway's close), one more at every restart. It now leads a group of its own, which goes with it.
  const { file: groupFile, pids: groupHelpers } = helperPids();

  it('ends the helper when the upstream crashes, and when the gateway closes it', async () => {
    const gateway = await startGateway({ upstreams: [{ id: 'grouped', transport: 'stdio', command: NODE, args: [ORPHAN], env: { ORPHAN_PID_FILE: groupFile, HELPER_IN_GROUP: '1' } }] });
    const client = await connectClient(gateway);
    const name = await eventually(async () => (await client.listTools()).tools.find((t) => t.name.endsWith('whoami'))?.name, 15_000, 'the upstream listed');
    const first = textOf(await client.callTool({ name }));
    const [crashedHelper] = groupHelpers();
    expect(isAlive(crashedHelper!)).toBe(true);
    await client.callTool({ name: name.replace('whoami', 'crash') }).catch(() => undefined);
    await eventually(() => (isAlive(crashedHelper!) ? undefined : true), 10_000, "the crashed upstream's helper to end");
    await answerFromNewProcess(client, name, first);
    const runningHelper = groupHelpers().at(-1)!;
    expect(runningHelper).not.toBe(crashedHelper);
    expect(isAlive(runningHelper)).toBe(true);
    await gateway.close();
    await eventually(() => (isAlive(runningHelper) ? undefined : true), 10_000, "the closed upstream's helper to end");
  }, 60_000);
});
