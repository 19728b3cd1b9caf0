// The receiving side of exactly-once, against a real destination mcp-edge
// process whose `record` tool writes a row per effect and answers 400 ms
// later: two concurrent deliveries with one key (two client sessions) run the
// effect once and both get the first result; a later repeat is answered from
// SQLite. And a sender whose destination is that mcp-edge as an HTTP upstream
// delivers through the upstream provider with its key, which the receiver
// remembers.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateTaskResultSchema, GetTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_META_KEY } from '../host/src/index.js';
import { connectClient, eventually, startGateway } from './helpers/gateway.js';
import { ROOT, tempDir, waitForOutput } from './helpers/processes.js';

const DESTINATION = join(ROOT, 'test/fixtures/queue/destination.mjs');
const destDir = tempDir('mcp-edge-idem-');
let dest: ChildProcess;
let destUrl: string;
const clients: Client[] = [];

async function peer(): Promise<Client> {
  const c = new Client({ name: 'peer', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(destUrl)));
  clients.push(c);
  return c;
}

/** Effects the destination recorded for `n`, read from its SQLite file. */
function effectsOf(n: number, dir = destDir): number {
  const db = new Database(join(dir, 'mcp-edge.db'), { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) FROM effects WHERE n = ?').pluck().get(n) as number;
  } finally {
    db.close();
  }
}

const started: ChildProcess[] = [];
async function startDestination(dir: string, replyDelayMs: number, inDoubt = 'rerun'): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [DESTINATION, dir, '0', String(replyDelayMs), inDoubt], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  return { child, url: (await waitForOutput(child.stdout, /READY (\S+)/))[1]! };
}

async function clientOf(url: string): Promise<Client> {
  const c = new Client({ name: 'peer', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  clients.push(c);
  return c;
}

/**
 * Kills a destination after the effect of a keyed call and before its result
 * is recorded, restarts it on the same data, and resends the call.
 */
async function crashBetweenEffectAndRecord(inDoubt: string) {
  const dir = tempDir('mcp-edge-doubt-');
  // It would answer after an hour: the kill lands between the effect and its record for certain.
  const first = await startDestination(dir, 3_600_000, inDoubt);
  const params = { name: 'record', arguments: { n: 20 }, _meta: { [IDEMPOTENCY_META_KEY]: 'sender-y:call-20' } };
  // Its answer never comes (the process dies); the SDK client is closed after the file.
  void (await clientOf(first.url)).callTool(params).catch(() => undefined);
  await eventually(() => (effectsOf(20, dir) === 1 ? true : undefined), 10_000, 'the effect');
  first.child.kill('SIGKILL');
  const second = await startDestination(dir, 0, inDoubt);
  const c = await clientOf(second.url);
  const resend = await c.callTool(params);
  const again = await c.callTool(params);
  second.child.kill('SIGKILL');
  return { resend, again, effects: effectsOf(20, dir) };
}

beforeAll(async () => {
  ({ child: dest, url: destUrl } = await startDestination(destDir, 400));
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  for (const child of started) child.kill('SIGKILL');
});

describe('idempotency memory of a destination mcp-edge', () => {
  it('runs the effect once for two concurrent deliveries of one key; the second waits for the first result', async () => {
    const [a, b] = await Promise.all([peer(), peer()]);
    const params = { name: 'record', arguments: { n: 1 }, _meta: { [IDEMPOTENCY_META_KEY]: 'sender-x:call-1' } };
    const [ra, rb] = await Promise.all([a.callTool(params), b.callTool(params)]);
    expect(ra.content).toEqual([{ type: 'text', text: 'recorded 1' }]);
    expect(rb).toEqual(ra);
    expect(effectsOf(1)).toBe(1);
    // Later, with other arguments even: the first result, no second effect.
    const rc = await a.callTool({ ...params, arguments: { n: 2 } });
    expect(rc.content).toEqual([{ type: 'text', text: 'recorded 1' }]);
    expect(effectsOf(2)).toBe(0);
    // Without a key, every call is an effect.
    await Promise.all([a.callTool({ name: 'record', arguments: { n: 3 } }), b.callTool({ name: 'record', arguments: { n: 3 } })]);
    expect(effectsOf(3)).toBe(2);
  });

  it('a sender delivers through an HTTP upstream provider with a key the receiver remembers', async () => {
    const sender = await startGateway({
      upstreams: [{ id: 'edge2', transport: 'http', url: destUrl }],
      offline: { destinations: { peer: { upstream: 'edge2' } }, deferrable_tools: { record: 'peer' }, retry_base_ms: 100 },
    });
    const client = await connectClient(sender);
    await eventually(async () => ((await client.listTools()).tools.some((t) => t.name === 'record') ? true : undefined), 10_000, 'the upstream tools');
    const { task } = await client.request({ method: 'tools/call', params: { name: 'record', arguments: { n: 10 }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
    const done = await eventually(async () => {
      const t = await client.request({ method: 'tasks/get', params: { taskId: task.taskId } }, GetTaskResultSchema);
      return t.status === 'working' ? undefined : t;
    }, 15_000, 'the delivery');
    expect(done.status).toBe('completed');
    expect(effectsOf(10)).toBe(1);
    // A resend with the key the sender used (a lost acknowledgement) changes nothing.
    const key = `${sender.queue!.queue.senderId}/${task.taskId}`;
    const again = await (await peer()).callTool({ name: 'record', arguments: { n: 10 }, _meta: { [IDEMPOTENCY_META_KEY]: key } });
    expect(again.content).toEqual([{ type: 'text', text: 'recorded 10' }]);
    expect(effectsOf(10)).toBe(1);
  });

  it('a crash between the effect and its record: "rerun" runs the resend again (at least once)', async () => {
    const { resend, again, effects } = await crashBetweenEffectAndRecord('rerun');
    expect(resend.content).toEqual([{ type: 'text', text: 'recorded 20' }]);
    expect(again).toEqual(resend);
    expect(effects).toBe(2);
  });

  it('a crash between the effect and its record: "refuse" answers outcome unknown and never reruns (at most once)', async () => {
    const { resend, again, effects } = await crashBetweenEffectAndRecord('refuse');
    expect(resend.isError).toBe(true);
    expect(JSON.stringify(resend.content)).toMatch(/Outcome unknown/);
    expect(again).toEqual(resend);
    expect(effects).toBe(1);
  });
});
