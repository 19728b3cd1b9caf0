// A stdio upstream whose process leaves a helper behind that holds its stdout
// and stderr (a detached child, as a server's daemon would be).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, eventually, NODE, startGateway, textOf } from './helpers/gateway.js';
import { isAlive, ROOT, tempDir } from './helpers/processes.js';

const ORPHAN = join(ROOT, 'test/fixtures/orphan-server.mjs');
const pidFile = join(tempDir('mcp-edge-orphans-'), 'helpers');
const helpers = (): number[] => readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map(Number);
afterAll(() => {
  for (const pid of helpers()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

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
    const second = await eventually(async () => {
      const text = await client.callTool({ name }).then(textOf, () => undefined);
      return text !== undefined && text !== first && /^\d+$/.test(text) ? text : undefined;
    }, 20_000, 'an answer from a new process');
    expect(second).not.toBe(first);
    await gateway.close();
  }, 60_000);
});
