// One bad upstream never takes the others down: a crashed child (kill -9 mid-
// call) and a hanging server give clear errors, the rest keep serving, and the
// crashed one comes back on its own.
import { describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamProvider } from '../host/src/providers/upstream/upstream.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { connectClient, eventually, EVERYTHING, MEMORY, NODE, REPLICA, startGateway, textOf } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';

function upstream(gateway: Gateway, id: string): UpstreamProvider {
  return gateway.aggregator.slots.find((s) => s.provider.id === id)!.provider as UpstreamProvider;
}

describe('gateway under upstream failures', () => {
  it('survives kill -9 of an upstream mid-call, keeps the others serving, and restarts it', async () => {
    const gateway = await startGateway({
      upstreams: [
        { id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING], restart: { initial_backoff_ms: 1500 } },
        { id: 'memory', transport: 'stdio', command: NODE, args: [MEMORY], env: { MEMORY_FILE_PATH: `${tempDir()}/m.jsonl` } },
      ],
    });
    let listChanges = 0;
    const client = await connectClient(gateway, {}, (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanges++));
    const firstPid = upstream(gateway, 'ev').pid!;
    expect(firstPid).toBeGreaterThan(0);

    const call = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(firstPid, 'SIGKILL');
    await expect(call).rejects.toThrow(/unavailable|Connection closed/i);

    // While it is down: its tools are gone, calls say so, the other upstream serves on.
    const down = await eventually(async () => {
      const names = (await client.listTools()).tools.map((t) => t.name);
      return names.includes('echo') ? undefined : names;
    }, 3_000, 'echo to leave the list');
    expect(down).toContain('read_graph');
    expect(listChanges).toBeGreaterThan(0);
    await expect(client.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(/not offered/);
    expect(textOf(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain('entities');
    expect(gateway.health().providers.find((p) => p.id === 'ev')).toMatchObject({ state: 'down' });

    // Then it comes back by itself, as a new process.
    await eventually(async () => ((await client.listTools()).tools.some((t) => t.name === 'echo') ? true : undefined), 10_000, 'echo to return');
    expect(upstream(gateway, 'ev').pid).not.toBe(firstPid);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'back' } }))).toContain('back');
  });

  it('times out a hanging upstream, opens its circuit, and serves the healthy one meanwhile', async () => {
    const gateway = await startGateway({
      routing: { failure_threshold: 2, open_ms: 60_000 },
      upstreams: [
        { id: 'stuck', transport: 'stdio', command: NODE, args: [REPLICA], env: { MODE: 'hang', REPLICA_NAME: 'stuck' }, timeout_ms: 300 },
        { id: 'fine', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'fine' } },
      ],
    });
    const client = await connectClient(gateway);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['stuck__whoami', 'fine__whoami']));

    const slow = client.callTool({ name: 'stuck__whoami', arguments: {} });
    expect(textOf(await client.callTool({ name: 'fine__whoami', arguments: {} }))).toBe('fine');
    const started = Date.now();
    await expect(slow).rejects.toThrow(/timed out|timeout/i);
    await expect(client.callTool({ name: 'stuck__whoami', arguments: {} })).rejects.toThrow(/timed out|timeout/i);
    // Two failures open the circuit: the next call is refused at once, with a pointer to the health resource.
    const refusedAt = Date.now();
    await expect(client.callTool({ name: 'stuck__whoami', arguments: {} })).rejects.toThrow(/circuit open.*mcp-edge:\/\/providers/);
    expect(Date.now() - refusedAt).toBeLessThan(250);
    expect(Date.now() - started).toBeLessThan(5_000);
    const report = JSON.parse(String(((await client.readResource({ uri: 'mcp-edge://providers' })).contents[0] as { text: string }).text));
    expect(report.providers.find((p: { id: string }) => p.id === 'stuck').routing).toMatchObject({ circuit: 'open', failures: 2 });
    expect(textOf(await client.callTool({ name: 'fine__whoami', arguments: {} }))).toBe('fine');
  });
});
