// One bad upstream never takes the others down: a crashed child (kill -9 mid-
// call) and a hanging server give clear errors, the rest keep serving, and the
// crashed one comes back on its own.
import { describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamProvider } from '../host/src/providers/upstream/upstream.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { connectClient, eventually, EVERYTHING, MEMORY, NODE, REPLICA, routingOf, startGateway, textOf } from './helpers/gateway.js';
import { gatedEntry, tempDir } from './helpers/processes.js';

function upstream(gateway: Gateway, id: string): UpstreamProvider {
  return gateway.aggregator.slots.find((s) => s.provider.id === id)!.provider as UpstreamProvider;
}

describe('gateway under upstream failures', () => {
  it('survives kill -9 of an upstream mid-call, keeps the others serving, and restarts it', async () => {
    // The test opens and closes the gate of ev's program, so "down" lasts exactly as long as the checks need.
    const ev = gatedEntry(EVERYTHING);
    const gateway = await startGateway({
      upstreams: [
        { id: 'ev', transport: 'stdio', command: NODE, args: [ev.path], restart: { initial_backoff_ms: 100, max_backoff_ms: 400, max_restarts: 1000 } },
        { id: 'memory', transport: 'stdio', command: NODE, args: [MEMORY], env: { MEMORY_FILE_PATH: `${tempDir()}/m.jsonl` } },
      ],
    });
    let listChanges = 0;
    const client = await connectClient(gateway, {}, (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanges++));
    const firstPid = upstream(gateway, 'ev').pid!;
    expect(firstPid).toBeGreaterThan(0);

    // Killed once the upstream reports progress on the call: mid-call for certain.
    let running: () => void;
    const progressed = new Promise<void>((resolve) => (running = resolve));
    const call = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } }, undefined, { onprogress: () => running() });
    await progressed;
    ev.close();
    process.kill(firstPid, 'SIGKILL');
    await expect(call).rejects.toThrow(/unavailable|Connection closed/i);

    // While it is down: its tools are gone, calls say so, the other upstream serves on.
    const down = await eventually(async () => {
      const names = (await client.listTools()).tools.map((t) => t.name);
      return names.includes('echo') ? undefined : names;
    }, 10_000, 'echo to leave the list');
    expect(down).toContain('read_graph');
    expect(listChanges).toBeGreaterThan(0);
    await expect(client.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(/not offered/);
    expect(textOf(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain('entities');
    // The gateway keeps trying: a restart failed while the program could not start.
    const detail = await eventually(() => {
      const health = gateway.health().providers.find((p) => p.id === 'ev');
      return health?.state === 'down' && /could not connect/.test(health.detail ?? '') ? health.detail : undefined;
    }, 10_000, 'a failed restart of ev');
    expect(detail).toMatch(/retrying in \d+ ms/);

    // Then it comes back by itself, as a new process, once it can start.
    ev.open();
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
    await expect(slow).rejects.toThrow(/timed out|timeout/i);
    // With progress asked for, the gateway keeps the time limit itself and names it: the upstream's timeout_ms.
    const withProgress = client.callTool({ name: 'stuck__whoami', arguments: {} }, undefined, { onprogress: () => undefined });
    await expect(withProgress).rejects.toThrow(/timed out after 300 ms without progress/);
    expect(await routingOf(client, 'stuck')).toMatchObject({ circuit: 'open', calls: 2, failures: 2, in_flight: 0 });
    // Two failures opened the circuit: the next call is refused by the router, with a pointer to the
    // health resource, and never reaches the upstream (it would hang there until the time limit).
    await expect(client.callTool({ name: 'stuck__whoami', arguments: {} })).rejects.toThrow(/circuit open.*mcp-edge:\/\/providers/);
    expect(await routingOf(client, 'stuck')).toMatchObject({ circuit: 'open', calls: 2, failures: 2, in_flight: 0 });
    expect(textOf(await client.callTool({ name: 'fine__whoami', arguments: {} }))).toBe('fine');
  });
});
