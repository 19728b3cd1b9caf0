// Deferred calls belong to the principal that queued them (migration
// 0007-task-owner): over real HTTP with two API keys, each key lists, reads,
// and cancels only its own tasks, and an equal idempotency key from another
// key is another call, never a way to the first one's task. A gateway
// without authentication shows every task to every caller, as before.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CancelTaskResultSchema, CreateTaskResultSchema, GetTaskResultSchema, ListTasksResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { IDEMPOTENCY_META_KEY } from '../host/src/index.js';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { startGateway } from './helpers/gateway.js';

const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

/** Port 9 (discard) on 127.0.0.1 is closed: every call stays queued. */
const OFFLINE = {
  destinations: { dest: { url: 'http://127.0.0.1:9/mcp' } },
  deferrable_tools: { record: 'dest' },
  retry_base_ms: 3_600_000,
};

async function client(url: string, key?: string): Promise<Client> {
  const c = new Client({ name: 'task-owner', version: '1.0.0' });
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  clients.push(c);
  return c;
}

const defer = async (c: Client, n: number, key?: string) =>
  (await c.request({ method: 'tools/call', params: { name: 'record', arguments: { n }, task: { ttl: 600_000 }, ...(key ? { _meta: { [IDEMPOTENCY_META_KEY]: key } } : {}) } }, CreateTaskResultSchema)).task.taskId;
const list = async (c: Client) => (await c.request({ method: 'tasks/list', params: {} }, ListTasksResultSchema)).tasks.map((t) => t.taskId).sort();
const getTask = (c: Client, taskId: string) => c.request({ method: 'tasks/get', params: { taskId } }, GetTaskResultSchema);

async function keyedGateway(): Promise<{ gateway: Gateway; alice: Client; bob: Client }> {
  const gateway = await startGateway({ auth: { api_keys: true }, offline: OFFLINE });
  const keys = new ApiKeyStore(gateway.db);
  const alice = await client(gateway.url, keys.create({ name: 'alice', scopes: [] }).key);
  const bob = await client(gateway.url, keys.create({ name: 'bob', scopes: [] }).key);
  return { gateway, alice, bob };
}

describe('deferred tasks belong to the principal that queued them', () => {
  it('tasks/list shows each API key only its own tasks; the rows record the owner', async () => {
    const { gateway, alice, bob } = await keyedGateway();
    const a = [await defer(alice, 1), await defer(alice, 2)].sort();
    const b = [await defer(bob, 3)];
    expect(await list(alice)).toEqual(a);
    expect(await list(bob)).toEqual(b);
    const owners = gateway.db.prepare('SELECT owner FROM deferred ORDER BY id').pluck().all();
    expect(owners).toEqual(['key:alice', 'key:alice', 'key:bob']);
  });

  it("tasks/get, tasks/result and tasks/cancel of another key's task answer not found and change nothing", async () => {
    const { alice, bob } = await keyedGateway();
    const mine = await defer(alice, 1);
    await expect(getTask(bob, mine)).rejects.toThrow(/Task not found/);
    await expect(bob.request({ method: 'tasks/result', params: { taskId: mine } }, CallToolResultSchema)).rejects.toThrow(/not found/i);
    await expect(bob.request({ method: 'tasks/cancel', params: { taskId: mine } }, CancelTaskResultSchema)).rejects.toThrow(/not (found|queued)/i);
    expect((await getTask(alice, mine)).status).toBe('working');
    const cancelled = await alice.request({ method: 'tasks/cancel', params: { taskId: mine } }, CancelTaskResultSchema);
    expect(cancelled.status).toBe('cancelled');
  });

  it("an equal idempotency key from another key is another call, not the first one's task", async () => {
    const { gateway, alice, bob } = await keyedGateway();
    const first = await defer(alice, 1, 'order-17');
    expect(await defer(alice, 1, 'order-17')).toBe(first);
    const other = await defer(bob, 1, 'order-17');
    expect(other).not.toBe(first);
    expect(await list(bob)).toEqual([other]);
    expect(gateway.queue!.queue.depth).toBe(2);
  });

  it('without authentication every caller sees every task, as before', async () => {
    const gateway = await startGateway({ offline: OFFLINE });
    const one = await client(gateway.url);
    const two = await client(gateway.url);
    const ids = [await defer(one, 1), await defer(two, 2)].sort();
    expect(await list(one)).toEqual(ids);
    expect(await list(two)).toEqual(ids);
    expect((await getTask(two, ids[0]!)).status).toBe('working');
    expect(gateway.db.prepare('SELECT COUNT(*) FROM deferred WHERE owner IS NULL').pluck().get()).toBe(2);
  });
});
