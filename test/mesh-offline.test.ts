// Deferred calls to a mesh peer that is away: three steps across real
// `mcp-edge serve` processes on 127.0.0.1. C shares `bump` and `bump_marked`
// (effects counted in a file); A defers calls to them to a mesh destination of
// its offline queue (bump by its config, bump_marked by the mark C's upstream
// puts on it). C stops, A's client calls `bump` as a task, A itself is killed
// and restarted, calls `bump_marked` as a task, C comes back: each call runs
// exactly once and its result is its task's.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, GetTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import { docPage } from './helpers/docs.js';
import { eventually, freePort, NODE, REPLICA } from './helpers/gateway.js';
import { tempDir, waitForExit } from './helpers/processes.js';
import { startMeshServe, type MeshServe } from './helpers/mesh-serve.js';

const ANNOUNCE_MS = 300;
const dir = tempDir('mcp-edge-mesh-offline-');
const keyFile = join(dir, 'swarm.key');
const bumpFile = join(dir, 'bumps.txt');
writeNetworkKey(keyFile);
const running = new Set<ChildProcess>();

/** Starts `mcp-edge serve` with `config` (a [mesh] section added); resolves once it serves HTTP. */
async function startNode(name: string, config: Record<string, unknown>, mesh: Record<string, unknown>): Promise<MeshServe> {
  const full = { ...config, mesh: { enabled: true, network_key_file: keyFile, announce_interval_ms: ANNOUNCE_MS, call_timeout_ms: 20_000, ...mesh } };
  const node = await startMeshServe(dir, name, full);
  running.add(node.child);
  node.child.once('exit', () => running.delete(node.child));
  return node;
}

async function stop(node: MeshServe): Promise<void> {
  node.child.kill('SIGKILL');
  await waitForExit(node.child);
}

async function clientOf(node: MeshServe): Promise<Client> {
  const client = new Client({ name: 'mesh-offline-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(node.url)));
  return client;
}

const listed = async (client: Client, name: string) => (await client.listTools()).tools.find((t) => t.name === name);
const runs = (): string[] => {
  try {
    return readFileSync(bumpFile, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

describe('a deferred call to a mesh peer that is away', () => {
  let meshPort: number;
  let a: MeshServe;
  let c: MeshServe;
  let client: Client;
  // A: no tools of its own; `bump` defers to the mesh destination "peers".
  const startA = () =>
    startNode('a', { offline: { retry_base_ms: 100, sync_interval_seconds: 1, destinations: { peers: { mesh: true } }, deferrable_tools: { bump: 'peers' } } }, { listen: [`/ip4/127.0.0.1/tcp/${meshPort}`] });
  const startC = () =>
    startNode('c', { upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'C', BUMP_FILE: bumpFile } }] }, { listen: ['/ip4/127.0.0.1/tcp/0'], share: ['bump', 'bump_marked'], bootstrap: a.addresses });

  beforeAll(async () => {
    meshPort = await freePort();
    a = await startA();
    c = await startC();
    client = await clientOf(a);
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    for (const child of running) child.kill('SIGKILL');
    await Promise.all([...running].map((child) => waitForExit(child)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the docs/mesh.md example as written (with the mesh on)', () => {
    const config = parseConfig(`[mesh]\nenabled = true\nopen = true\n${docPage('docs/mesh.md').example('mesh-offline', 'toml')}`, 'docs/mesh.md', {});
    expect(config.offline.destinations.peers).toMatchObject({ mesh: true, ttl_seconds: 86400 });
    expect(config.offline.deferrable_tools).toEqual({ render_report: 'peers' });
  });

  it("lists C's shared tools on A with task support (their calls may wait in A's queue)", async () => {
    const bump = await eventually(() => listed(client, 'bump'), 15_000, 'bump listed on A');
    // bump by A's config ([offline.deferrable_tools]), bump_marked by the mark its upstream on C puts on it.
    expect(bump.execution?.taskSupport).toBe('optional');
    expect((await eventually(() => listed(client, 'bump_marked'), 15_000, 'bump_marked listed on A')).execution?.taskSupport).toBe('optional');
    // Called plainly while C is up, it runs now.
    const now = await client.callTool({ name: 'bump' });
    expect((now.content as { text: string }[])[0]?.text).toBe('1');
  });

  it('waits while C is away, survives a restart of A, and runs exactly once when C is back', async () => {
    await stop(c);
    await eventually(async () => ((await listed(client, 'bump')) === undefined ? true : undefined), 15_000, 'bump gone from A');
    const defer = (name: string) => client.request({ method: 'tools/call', params: { name, task: { ttl: 600_000 } } }, CreateTaskResultSchema);
    const { task } = await defer('bump');
    expect(task.status).toBe('working');
    expect(task.statusMessage).toBe('queued for peers');

    // A is killed with the call queued; the new A has it in SQLite, and remembers that C marked bump_marked deferrable.
    await client.close();
    await stop(a);
    a = await startA();
    client = await clientOf(a);
    const { task: marked } = await defer('bump_marked');
    expect(marked.statusMessage).toBe('queued for peers');
    const get = (taskId: string) => client.request({ method: 'tasks/get', params: { taskId } }, GetTaskResultSchema);
    expect((await get(task.taskId)).status).toBe('working');
    await new Promise((r) => setTimeout(r, 1_500));
    expect([(await get(task.taskId)).status, (await get(marked.taskId)).status]).toEqual(['working', 'working']);
    expect(runs()).toEqual(['bump']);

    c = await startC();
    const finished = (taskId: string) =>
      eventually(async () => {
        const t = await get(taskId);
        return t.status === 'working' ? undefined : t;
      }, 30_000, `task ${taskId} to finish once C is back`);
    expect([(await finished(task.taskId)).status, (await finished(marked.taskId)).status]).toEqual(['completed', 'completed']);
    const resultOf = async (taskId: string) => ((await client.request({ method: 'tasks/result', params: { taskId } }, CallToolResultSchema)).content as { text: string }[])[0]?.text;
    // Runs 2 and 3 on C, in whichever order the queue delivered them.
    expect([await resultOf(task.taskId), await resultOf(marked.taskId)].sort()).toEqual(['2', '3']);
    // Exactly once: a sync finds nothing left, and C counted one more run of each.
    const sync = await client.callTool({ name: 'queue_sync' });
    expect((sync.structuredContent as { delivered: number }).delivered).toBe(0);
    expect(runs().sort()).toEqual(['bump', 'bump', 'bump_marked']);
  }, 90_000);
});
