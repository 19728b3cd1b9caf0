// Deferred calls as MCP tasks, end to end over Streamable HTTP: a sender
// gateway defers `record` calls to a destination gateway whose link is down,
// shows backoff in its status, delivers in order when the link comes back,
// and a standard client follows everything with tasks/get, tasks/result and
// tasks/cancel. The destination answers a repeated idempotency key once.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CancelTaskResultSchema, CreateTaskResultSchema, GetTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, IDEMPOTENCY_META_KEY, type Gateway } from '../host/src/index.js';
import { tempDir } from './helpers/processes.js';
import { recordTool, silentLogger } from './helpers/queue.js';

let sender: Gateway;
let destination: Gateway | undefined;
let client: Client;
let destPort: number;
const effects: number[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startDestination(): Promise<Gateway> {
  const g = await createGateway({ config: { gateway: { bind_address: `127.0.0.1:${destPort}`, data_dir: tempDir('mcp-edge-dest-') } }, logger: silentLogger });
  g.tools.register(recordTool(effects));
  return g;
}

async function rest(method: string, path: string): Promise<any> {
  const res = await fetch(new URL(path, sender.url), { method });
  expect(res.status).toBe(200);
  return res.json();
}

const defer = (n: number) => client.request({ method: 'tools/call', params: { name: 'record', arguments: { n }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
const getTask = (taskId: string) => client.request({ method: 'tasks/get', params: { taskId } }, GetTaskResultSchema);

beforeAll(async () => {
  destPort = await freePort();
  sender = await createGateway({
    config: {
      gateway: { bind_address: '127.0.0.1:0', data_dir: tempDir('mcp-edge-send-') },
      offline: {
        destinations: { dest: { url: `http://127.0.0.1:${destPort}/mcp` } },
        deferrable_tools: { record: 'dest' },
        retry_base_ms: 2_000,
        retry_jitter_percent: 0,
      },
    },
    logger: silentLogger,
  });
  client = new Client({ name: 'queue-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(sender.url)));
});

afterAll(async () => {
  await client?.close();
  await sender?.close();
  await destination?.close();
});

describe('deferred calls as MCP tasks', () => {
  it('lists deferrable tools with task support and the queue tools', async () => {
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'record')?.execution).toEqual({ taskSupport: 'optional' });
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['queue_status', 'queue_sync']));
  });

  it('queues while the uplink is down (backoff visible), delivers in order when it is back', async () => {
    const tasks = [];
    for (const n of [1, 2, 3, 4]) tasks.push((await defer(n)).task);
    expect(tasks.map((t) => t.status)).toEqual(['working', 'working', 'working', 'working']);

    const first = await rest('POST', '/v1/queue/sync');
    expect(first.unreachable).toEqual(['dest']);
    const beforeLastFailure = Date.now();
    const second = await rest('POST', '/v1/queue/sync');
    expect(second.unreachable).toEqual(['dest']);
    const status = await rest('GET', '/v1/queue/status');
    const afterStatus = Date.now();
    expect(status.depth).toBe(4);
    const lane = status.destinations[0];
    // Enqueueing already kicked one attempt; each sync added one more failure.
    expect(lane).toMatchObject({ destination: 'dest', depth: 4 });
    expect(lane.failures).toBeGreaterThanOrEqual(2);
    // The n-th failure waits base * 2^(n-1) (no jitter configured), counted from the failure,
    // which came after beforeLastFailure; the status was read before afterStatus.
    const wait = 2_000 * 2 ** (lane.failures - 1);
    expect(lane.next_attempt_in_ms).toBeGreaterThanOrEqual(wait - (afterStatus - beforeLastFailure));
    expect(lane.next_attempt_in_ms).toBeLessThanOrEqual(wait);
    expect(lane.last_error).toMatch(new RegExp(`attempt ${lane.failures}; next try in ${wait} ms`));
    expect(lane.oldest_age_ms).toBeGreaterThanOrEqual(0);

    const cancelled = await client.request({ method: 'tasks/cancel', params: { taskId: tasks[1]!.taskId } }, CancelTaskResultSchema);
    expect(cancelled.status).toBe('cancelled');

    destination = await startDestination();
    const third = await rest('POST', '/v1/queue/sync');
    expect(third).toMatchObject({ delivered: 3, unreachable: [] });
    expect(effects).toEqual([1, 3, 4]);
    expect((await getTask(tasks[0]!.taskId)).status).toBe('completed');
    expect((await getTask(tasks[1]!.taskId)).status).toBe('cancelled');
    const result = await client.request({ method: 'tasks/result', params: { taskId: tasks[2]!.taskId } }, CallToolResultSchema);
    expect(result.content).toEqual([{ type: 'text', text: 'recorded 3' }]);
    expect((await rest('GET', '/v1/queue/status')).last_sync_ms).toBeGreaterThan(0);
  });

  it('a client without task support marks a call deferrable and gets a result naming its task', async () => {
    const r = await client.callTool({ name: 'record', arguments: { n: 7 }, _meta: { 'dev.mcp-edge/deferrable': true, [IDEMPOTENCY_META_KEY]: 'client-7' } });
    const { taskId } = r.structuredContent as { taskId: string };
    expect(r._meta?.['io.modelcontextprotocol/related-task']).toEqual({ taskId });
    await rest('POST', '/v1/queue/sync');
    expect((await getTask(taskId)).status).toBe('completed');
    expect(effects.filter((n) => n === 7)).toHaveLength(1);
    // The same key again: the same task, no second effect.
    const again = await client.callTool({ name: 'record', arguments: { n: 7 }, _meta: { 'dev.mcp-edge/deferrable': true, [IDEMPOTENCY_META_KEY]: 'client-7' } });
    expect((again.structuredContent as { taskId: string }).taskId).toBe(taskId);
    await rest('POST', '/v1/queue/sync');
    expect(effects.filter((n) => n === 7)).toHaveLength(1);
  });

  it('the queue_status tool and the metrics agree with REST', async () => {
    const r = await client.callTool({ name: 'queue_status', arguments: {} });
    expect((r.structuredContent as { depth: number }).depth).toBe(0);
    const m = await rest('GET', '/v1/queue/metrics');
    expect(m.prometheus).toMatch(/mcp_edge_queue_depth\{destination="dest"\} 0/);
    expect(m.prometheus).toMatch(/mcp_edge_queue_delivered_total 4/);
    expect(m.prometheus).toMatch(/mcp_edge_queue_cancelled_total 1/);
  });

  it('a destination mcp-edge answers a repeated idempotency key with the first result, once', async () => {
    const direct = new Client({ name: 'peer', version: '1.0.0' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(destination!.url)));
    const params = { name: 'record', arguments: { n: 99 }, _meta: { [IDEMPOTENCY_META_KEY]: 'peer-a:call-99' } };
    const [a, b] = await Promise.all([direct.callTool(params), direct.callTool(params)]);
    const c = await direct.callTool({ ...params, arguments: { n: 100 } });
    await direct.close();
    expect(effects.filter((n) => n === 99)).toHaveLength(1);
    expect(effects).not.toContain(100);
    expect(b).toEqual(a);
    expect(c.content).toEqual([{ type: 'text', text: 'recorded 99' }]);
  });
});
