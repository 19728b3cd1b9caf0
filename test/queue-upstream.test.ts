// Deferred calls whose destination is a configured upstream (a real stdio
// child): a tool the upstream marks deferrable is listed with task support and
// defers when called as a task; a configured deferrable tool of that upstream
// too; both are delivered through the upstream's own connection with the
// idempotency key in `_meta`, also after the child was killed and restarted
// (the call waits while it is down, and goes once when it is back).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema, GetTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/index.js';
import type { UpstreamProvider } from '../host/src/providers/upstream/upstream.js';
import { connectClient, eventually, NODE, startGateway } from './helpers/gateway.js';
import { gatedEntry, ROOT, tempDir } from './helpers/processes.js';

const FIXTURE = join(ROOT, 'test/fixtures/queue/deferrable-upstream.mjs');
/** The upstream's program, behind a gate the test closes to keep it down. */
const entry = gatedEntry(FIXTURE);
const effectsFile = join(tempDir('mcp-edge-upq-'), 'effects.jsonl');
let gateway: Gateway;
let client: Client;

interface Effect {
  tool: string;
  n: number;
  key: string | null;
  pid: number;
}
const effects = (): Effect[] =>
  readFileSync(effectsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Effect);

const upstream = () => gateway.aggregator.slots.find((s) => s.provider.id === 'up')!.provider as UpstreamProvider;
const asTask = (name: string, n: number) => client.request({ method: 'tools/call', params: { name, arguments: { n }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
const completed = (taskId: string) =>
  eventually(async () => {
    const t = await client.request({ method: 'tasks/get', params: { taskId } }, GetTaskResultSchema);
    return t.status === 'working' ? undefined : t;
  }, 15_000, `task ${taskId} to finish`);

beforeAll(async () => {
  writeFileSync(effectsFile, '');
  gateway = await startGateway({
    upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [entry.path], env: { EFFECTS: effectsFile }, restart: { initial_backoff_ms: 200, max_backoff_ms: 500, max_restarts: 1000 } }],
    offline: { destinations: { tools: { upstream: 'up' } }, deferrable_tools: { plain_note: 'tools' }, retry_base_ms: 200, sync_interval_seconds: 1 },
  });
  await eventually(() => (upstream().health().state === 'up' ? true : undefined), 15_000, 'the upstream to start');
  client = await connectClient(gateway);
});

describe('deferred calls to an upstream, delivered through its provider', () => {
  it('lists marked and configured deferrable tools with task support, other tools as the upstream does', async () => {
    const { tools } = await client.listTools();
    const note = tools.find((t) => t.name === 'note');
    expect(note?._meta?.['dev.mcp-edge/deferrable']).toBe(true);
    // The upstream runs no tasks itself ("forbidden"); the gateway holds the task.
    expect(note?.execution).toEqual({ taskSupport: 'optional' });
    expect(tools.find((t) => t.name === 'plain_note')?.execution).toEqual({ taskSupport: 'optional' });
    expect(tools.find((t) => t.name === 'other')?.execution).toEqual({ taskSupport: 'forbidden' });
  });

  it('defers a marked tool called as a task and delivers it through the upstream with its key', async () => {
    const { task } = await asTask('note', 1);
    expect(task.status).toBe('working');
    expect((await completed(task.taskId)).status).toBe('completed');
    const result = await client.request({ method: 'tasks/result', params: { taskId: task.taskId } }, CallToolResultSchema);
    expect(result.content).toEqual([{ type: 'text', text: 'note 1' }]);
    const e = effects().filter((x) => x.n === 1);
    expect(e).toHaveLength(1);
    expect(e[0]!.key).toBe(`${gateway.queue!.queue.senderId}/${task.taskId}`);
  });

  it('defers a configured deferrable tool of the upstream the same way', async () => {
    const { task } = await asTask('plain_note', 2);
    expect((await completed(task.taskId)).status).toBe('completed');
    expect(effects().filter((x) => x.n === 2).map((x) => x.tool)).toEqual(['plain_note']);
  });

  it('a marked tool called plainly runs now, without the queue', async () => {
    const r = await client.callTool({ name: 'note', arguments: { n: 3 } });
    expect(r.content).toEqual([{ type: 'text', text: 'note 3' }]);
    expect(effects().find((x) => x.n === 3)?.key).toBeNull();
  });

  it('holds calls while the upstream is down and delivers each once after it restarted', async () => {
    const before = upstream().pid!;
    // Its restarts fail until the gate opens again: it stays down while the calls come in.
    entry.close();
    process.kill(before, 'SIGKILL');
    await eventually(() => (upstream().health().state === 'down' ? true : undefined), 10_000, 'the upstream to be down');
    // Not listed while down: the gateway remembers the upstream marked it deferrable.
    expect((await client.listTools()).tools.find((t) => t.name === 'note')).toBeUndefined();
    const a = await asTask('note', 4);
    const b = await asTask('plain_note', 5);
    expect([a.task.status, b.task.status]).toEqual(['working', 'working']);
    // Both were queued while the upstream was down, and nothing reached it.
    expect(upstream().health().state).toBe('down');
    expect(effects().filter((x) => x.n >= 4)).toEqual([]);
    entry.open();
    expect((await completed(a.task.taskId)).status).toBe('completed');
    expect((await completed(b.task.taskId)).status).toBe('completed');
    const late = effects().filter((x) => x.n >= 4);
    expect(late.map((x) => x.n).sort()).toEqual([4, 5]);
    expect(late.every((x) => x.pid !== before)).toBe(true);
    expect(late.every((x) => x.key?.startsWith(gateway.queue!.queue.senderId))).toBe(true);
  });

  it('remembers marked tools across a restart of the gateway, so calls defer while the upstream never came up', async () => {
    const dataDir = tempDir('mcp-edge-upq-restart-');
    const upstreamConfig = { id: 'up', transport: 'stdio' as const, command: NODE, args: [FIXTURE], env: { EFFECTS: effectsFile } };
    const first = await startGateway({ gateway: { data_dir: dataDir }, upstreams: [upstreamConfig] });
    await eventually(async () => ((await (await connectClient(first)).listTools()).tools.some((t) => t.name === 'note') ? true : undefined), 15_000, 'the marked tool');
    await first.close();
    // The same data, and an upstream that cannot start: it lists nothing.
    const broken = { ...upstreamConfig, args: [join(ROOT, 'test/fixtures/queue/no-such-server.mjs')], restart: { initial_backoff_ms: 60_000, max_backoff_ms: 60_000 } };
    const second = await startGateway({ gateway: { data_dir: dataDir }, upstreams: [broken] });
    const c = await connectClient(second);
    const { task } = await c.request({ method: 'tools/call', params: { name: 'note', arguments: { n: 50 }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
    expect(task.status).toBe('working');
    expect(second.queue!.queue.depth).toBe(1);
  });
});
