// Replicas routed by the core: failover for idempotent tools, no silent retry
// for the others; list_changed from an upstream reaches clients; two clients
// using the same JSON-RPC ids (and progress tokens) never see each other's answers.
import { describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, eventually, EVERYTHING, NODE, REPLICA, routingOf, startGateway, textOf, type UpstreamInput } from './helpers/gateway.js';

const replica = (id: string, mode?: 'hang'): UpstreamInput => ({
  id,
  transport: 'stdio',
  command: NODE,
  args: [REPLICA],
  env: { REPLICA_NAME: id, ...(mode ? { MODE: mode } : {}) },
  replica_group: 'rep',
  timeout_ms: 400,
});

describe('replicas and clients', () => {
  it('fails an idempotent call over to the next replica, then routes around the bad one', async () => {
    const gateway = await startGateway({ upstreams: [replica('r1', 'hang'), replica('r2')] });
    const client = await connectClient(gateway);
    const local = new Set(gateway.plugins.catalog().tools.map((t) => t.name));
    const names = (await client.listTools()).tools.map((t) => t.name).filter((n) => !local.has(n));
    expect(names).toEqual(['add_tool', 'cancelled', 'slow', 'waiting', 'whoami', 'write']);

    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('r2');
    // r1 came first (configured order breaks the tie), timed out, and the call failed over to r2.
    expect(await routingOf(client, 'r1')).toMatchObject({ calls: 1, failures: 1, in_flight: 0 });
    expect(await routingOf(client, 'r2')).toMatchObject({ calls: 1, failures: 0 });
    for (let i = 0; i < 5; i++) expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('r2');
    // Then the router ranks r1 last: no call waited on it again.
    expect(await routingOf(client, 'r1')).toMatchObject({ calls: 1, failures: 1, in_flight: 0 });
    expect(await routingOf(client, 'r2')).toMatchObject({ calls: 6, failures: 0, in_flight: 0 });
  });

  it('never retries a non-idempotent call silently', async () => {
    const gateway = await startGateway({ upstreams: [replica('r1', 'hang'), replica('r2')] });
    const client = await connectClient(gateway);
    await expect(client.callTool({ name: 'write', arguments: {} })).rejects.toThrow(/r1.*not retried on another replica/s);
  });

  it('propagates list_changed from an upstream to the clients', async () => {
    const gateway = await startGateway({ upstreams: [{ ...replica('solo'), replica_group: undefined }] });
    let changes = 0;
    const client = await connectClient(gateway, {}, (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++));
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('fresh');
    await client.callTool({ name: 'add_tool', arguments: { tool: 'fresh' } });
    await eventually(() => (changes > 0 ? true : undefined), 5_000, 'a tools/list_changed notification');
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('fresh');
    expect(textOf(await client.callTool({ name: 'fresh', arguments: {} }))).toBe('fresh from solo');
  });

  it('passes a client cancellation on to the upstream', async () => {
    const gateway = await startGateway({ upstreams: [{ ...replica('solo'), replica_group: undefined, timeout_ms: 30_000 }] });
    const client = await connectClient(gateway);
    const abort = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: {} }, undefined, { signal: abort.signal });
    // Cancel once the upstream runs the call, so the cancellation has a request there to stop.
    await eventually(async () => (textOf(await client.callTool({ name: 'waiting', arguments: {} })) === '1' ? true : undefined), 10_000, 'the upstream to start the call');
    abort.abort('the user changed their mind');
    await expect(call).rejects.toThrow(/changed their mind/);
    expect(await eventually(async () => {
      const text = textOf(await client.callTool({ name: 'cancelled', arguments: {} }));
      return text === '1' ? text : undefined;
    }, 5_000, 'the upstream to see the cancellation')).toBe('1');
    expect(textOf(await client.callTool({ name: 'waiting', arguments: {} }))).toBe('0');
    expect((await routingOf(client, 'solo')).in_flight).toBe(0);
  });

  it('keeps two clients with colliding request ids and progress tokens apart', async () => {
    const gateway = await startGateway({ upstreams: [{ id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING] }] });
    const a = await connectClient(gateway);
    const b = await connectClient(gateway);
    const progressA: number[] = [];
    const progressB: number[] = [];
    // Both clients number their requests from the same start, so ids and progress tokens collide.
    const longA = a.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } }, undefined, {
      onprogress: (p) => progressA.push(p.total ?? -1),
    });
    const longB = b.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.4, steps: 2 } }, undefined, {
      onprogress: (p) => progressB.push(p.total ?? -1),
    });
    const echoes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).callTool({ name: 'echo', arguments: { message: `${i % 2 ? 'a' : 'b'}-${i}` } })),
    );
    echoes.forEach((result, i) => expect(textOf(result)).toBe(`Echo: ${i % 2 ? 'a' : 'b'}-${i}`));
    expect(textOf(await longA)).toContain('Steps: 3');
    expect(textOf(await longB)).toContain('Steps: 2');
    expect(progressA).toEqual([3, 3, 3]);
    expect(progressB).toEqual([2, 2]);
  });
});
