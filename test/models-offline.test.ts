// Completions that only the cloud can serve, asked while its link is cut (the
// scripted OpenAI-compatible server stopped): they become tasks in the offline
// queue's SQLite file, survive a gateway restart, and complete with the cloud's
// answer once the server listens again on the same port. REST answers 202 and
// GET /v1/completions/task; the generate MCP tool runs as an MCP task.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallToolResultSchema, CreateTaskResultSchema, GetTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { createGateway, type Gateway } from '../host/src/gateway/gateway.js';
import { loadCore } from '../host/src/core/index.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { connectClient } from './helpers/gateway.js';
import { retryAfterMs } from '../host/src/models/cloud-engine.js';
import { baseOf, postJson, ScriptedCloud, type Script } from './helpers/models.js';

const PIECES = ['The', ' capital', ' is', ' Paris', '.'];
const core = loadCore();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A cloud-only gateway on `dataDir`; retries every 100-200 ms so the test need not wait for the default backoff. */
async function gatewayOn(dataDir: string, endpoint: string, models: Record<string, unknown> = {}, offline: Record<string, unknown> = {}): Promise<Gateway> {
  return createGateway({
    config: {
      gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir },
      models: { cloud_endpoint: endpoint, cloud_model: 'big-model', cloud_timeout_ms: 2000, ...models },
      offline: { retry_base_ms: 100, sync_interval_seconds: 1, retry_jitter_percent: 0, ...offline },
    },
    core: await core,
    logger: createLogger(process.env.MCP_EDGE_TEST_LOG ? 'debug' : 'silent'),
  });
}

const portOf = (endpoint: string): number => Number(new URL(endpoint).port);

interface CloudOnly {
  dataDir: string;
  cloud: ScriptedCloud;
  endpoint: string;
  gateway: Gateway;
  /** The gateway's HTTP base URL. */
  base: string;
  /** Brings the cloud back on its port (the link returns). */
  reconnect(): Promise<string>;
  /** Closes the gateway and stops the cloud. */
  close(): Promise<void>;
}

/**
 * A scripted cloud and a cloud-only gateway on a fresh data dir (one SQLite
 * file a second gateway can reopen); the link starts cut unless `linkUp`.
 */
async function cloudOnly(scripts: Script[], opts: { linkUp?: boolean; models?: Record<string, unknown>; offline?: Record<string, unknown> } = {}): Promise<CloudOnly> {
  const dataDir = mkdtempSync(join(tmpdir(), 'models-offline-'));
  dirs.push(dataDir);
  const cloud = new ScriptedCloud(scripts);
  const endpoint = await cloud.start();
  if (!opts.linkUp) await cloud.stop();
  const gateway = await gatewayOn(dataDir, endpoint, opts.models, opts.offline);
  return {
    dataDir, cloud, endpoint, gateway,
    base: baseOf(gateway.url),
    reconnect: () => cloud.start(portOf(endpoint)),
    close: async () => {
      await gateway.close();
      await cloud.stop();
    },
  };
}

/** Reads `url` until `done` says so, at most `ms`. */
async function pollJson(url: string, done: (json: any) => boolean, ms = 15_000): Promise<any> {
  const until = Date.now() + ms;
  for (;;) {
    const json = await (await fetch(url)).json();
    if (done(json) || Date.now() > until) return json;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('completions while the cloud is unreachable', () => {
  it('REST: 202 and a task id, kept across a gateway restart, completed with the cloud answer when the link returns', async () => {
    const { dataDir, cloud, endpoint, gateway: first, base, reconnect } = await cloudOnly([{ kind: 'answer', pieces: PIECES }]);
    let mcpTask: { task_id: string; result_url: string };
    let chatTask: { task_id: string; result_url: string };
    try {
      const mcp = await postJson(`${base}/v1/mcp/completions`, { prompt: 'What is the capital of France?', max_tokens: 9 });
      expect(mcp.status).toBe(202);
      expect(mcp.json).toMatchObject({ status: 'working', task_id: expect.any(String), result_url: expect.stringMatching(/^\/v1\/completions\/task\?id=/) });
      expect(mcp.headers.get('location')).toBe(mcp.json.result_url);
      const chat = await postJson(`${base}/v1/chat/completions`, { messages: [{ role: 'user', content: 'And of Italy?' }], stream: true });
      expect(chat.status).toBe(202);
      mcpTask = mcp.json;
      chatTask = chat.json;
      const pending = await (await fetch(`${base}${mcpTask.result_url}`)).json();
      expect(pending).toMatchObject({ task_id: mcpTask.task_id, status: 'working' });
      expect(pending.result).toBeUndefined();
      const unknown = await fetch(`${base}/v1/completions/task?id=nope`);
      expect(unknown.status).toBe(404);
    } finally {
      await first.close();
    }
    expect(existsSync(join(dataDir, 'mcp-edge.db'))).toBe(true);
    expect(cloud.requests).toHaveLength(0);

    // A new gateway on the same SQLite file; the link comes back after it started.
    const second = await gatewayOn(dataDir, endpoint);
    try {
      const base = baseOf(second.url);
      expect((await (await fetch(`${base}${mcpTask.result_url}`)).json()).status).toBe('working');
      await reconnect();
      const done = await pollJson(`${base}${mcpTask.result_url}`, (j) => j.status !== 'working');
      expect(done).toMatchObject({ status: 'completed', result: { text: PIECES.join(''), engine: 'cloud', model: 'big-model', reason: 'no_local_model' } });
      const chatDone = await pollJson(`${base}${chatTask.result_url}`, (j) => j.status !== 'working');
      expect(chatDone).toMatchObject({ status: 'completed', result: { object: 'chat.completion', choices: [{ message: { role: 'assistant', content: PIECES.join('') } }], mcp_edge: { engine: 'cloud' } } });
      const asked = cloud.requests.map((r) => r.body.messages.at(-1).content);
      expect(asked.sort()).toEqual(['And of Italy?', 'What is the capital of France?']);
      expect(cloud.requests.find((r) => r.body.messages.at(-1).content.startsWith('What'))!.body.max_tokens).toBe(9);
    } finally {
      await second.close();
      await cloud.stop();
    }
  }, 60_000);

  it('MCP: the generate tool called as a task waits in the queue and completes when the link returns', async () => {
    const { gateway, reconnect, close } = await cloudOnly([{ kind: 'answer', pieces: PIECES }], { models: { generate_tool: true } });
    try {
      const client = await connectClient(gateway);
      const listed = (await client.listTools()).tools.find((t) => t.name === 'generate');
      expect(listed?.execution?.taskSupport).toBe('optional');
      // Called plainly, it says how to have it queued.
      const plain = await client.request({ method: 'tools/call', params: { name: 'generate', arguments: { prompt: 'Capital of France?' } } }, CallToolResultSchema);
      expect(plain.isError).toBe(true);
      expect(JSON.stringify(plain.content)).toMatch(/cloud_offline: .*Call generate as a task/);

      const { task } = await client.request({ method: 'tools/call', params: { name: 'generate', arguments: { prompt: 'Capital of France?' }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
      expect(task.status).toBe('working');
      await new Promise((r) => setTimeout(r, 400)); // a few retries against the cut link
      expect((await client.request({ method: 'tasks/get', params: { taskId: task.taskId } }, GetTaskResultSchema)).status).toBe('working');
      await reconnect();
      const until = Date.now() + 15_000;
      let status = 'working';
      while (status === 'working' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await client.request({ method: 'tasks/get', params: { taskId: task.taskId } }, GetTaskResultSchema)).status;
      }
      expect(status).toBe('completed');
      const result = await client.request({ method: 'tasks/result', params: { taskId: task.taskId } }, CallToolResultSchema);
      expect(result.structuredContent).toMatchObject({ text: PIECES.join(''), engine: 'cloud', model: 'big-model' });
      await client.close();
    } finally {
      await close();
    }
  }, 60_000);

  it('REST: a task the cloud then refuses (4xx) ends failed with the reason, not retried', async () => {
    const { cloud, base, reconnect, close } = await cloudOnly([{ kind: 'status', status: 401, body: '{"error":{"message":"bad key"}}' }]);
    try {
      const queued = await postJson(`${base}/v1/mcp/completions`, { prompt: 'Capital of France?' });
      expect(queued.status).toBe(202);
      expect((await fetch(`${base}/v1/completions/task`)).status).toBe(400);
      await reconnect();
      const done = await pollJson(`${base}${queued.json.result_url}`, (j) => j.status !== 'working');
      expect(done).toMatchObject({ status: 'failed', error: { code: 'completion_failed', message: expect.stringMatching(/answered 401 after 1 attempt\(s\).*bad key/) } });
      expect(done.result).toBeUndefined();
      await new Promise((r) => setTimeout(r, 300));
      expect(cloud.requests).toHaveLength(1);
    } finally {
      await close();
    }
  }, 30_000);

  it('npm: gateway.models.generate refuses by default, returns a task handle with offline "queue", awaits the answer with "wait"', async () => {
    const { cloud, base, gateway, reconnect, close } = await cloudOnly([{ kind: 'answer', pieces: PIECES }]);
    try {
      const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }], maxTokens: 7, stop: ['END'] });
      await expect(gateway.models.generate(ask('refused?'))).rejects.toMatchObject({ code: 'cloud_offline' });

      const handle = await gateway.models.generate({ ...ask('queued?'), offline: 'queue' });
      if (!('queued' in handle)) throw new Error('expected a queued task, got an answer');
      expect(handle.message).toMatch(/only the cloud can serve .*; queued as task /);
      await expect(handle.answer({ signal: AbortSignal.timeout(300) })).rejects.toThrow(/stopped waiting for queued task .* stays queued/);
      // The same task as the REST routes' (the npm API is a local caller: it sees every task).
      expect((await (await fetch(`${base}/v1/completions/task?id=${encodeURIComponent(handle.taskId)}`)).json()).status).toBe('working');

      const waiting = gateway.models.generate({ ...ask('waited?'), offline: 'wait' });
      await new Promise((r) => setTimeout(r, 300));
      expect(cloud.requests).toHaveLength(0);
      await reconnect();
      const [queued, waited] = await Promise.all([handle.answer(), waiting]);
      for (const answer of [queued, waited]) {
        expect(answer).toMatchObject({ text: PIECES.join(''), engine: 'cloud', model: 'big-model', reason: 'no_local_model', finishReason: 'stop' });
      }
      const asked = cloud.requests.map((r) => r.body);
      expect(asked.map((b) => b.messages.at(-1).content).sort()).toEqual(['queued?', 'waited?']);
      expect(asked.every((b) => b.max_tokens === 7 && b.stop[0] === 'END')).toBe(true);
    } finally {
      await close();
    }
  }, 30_000);

  it("REST: a queued completion waits out the cloud's Retry-After (capped at sync_interval_seconds), not the 100 ms backoff", async () => {
    const { cloud, base, close, gateway } = await cloudOnly(
      [
        { kind: 'status', status: 429, retryAfter: '3600' }, // the request itself: beyond the engine's 10 s cap, so queued at once
        { kind: 'status', status: 429, retryAfter: '2' }, // the queue's first delivery, after the request's 3600 s capped by sync_interval_seconds = 3
        { kind: 'status', status: 503, retryAfter: '3600' }, // 2 s later
        { kind: 'answer', pieces: PIECES }, // 3 s (the cap) later
      ],
      { linkUp: true, offline: { sync_interval_seconds: 3 } },
    );
    // The gaps on both clocks: the queue waits by the wall clock, the test measures by the monotonic one
    // (a failure once found 1,008 ms where >= 3 s were asked; a step of the wall clock would show here).
    const gaps = (key: 'at' | 'wall') => cloud.requests.slice(1).map((r, i) => Math.round(r[key] - cloud.requests[i]![key]));
    onTestFailed(() => console.log(JSON.stringify({ monotonic_gaps_ms: gaps('at'), wall_gaps_ms: gaps('wall'), queue: gateway.queue?.queue.status() })));
    try {
      const queued = await postJson(`${base}/v1/mcp/completions`, { prompt: 'Capital of France?' });
      expect(queued.status).toBe(202);
      expect(queued.json.message).toMatch(/answered 429 after 1 attempt\(s\), asking to wait 3600000 ms/);
      const done = await pollJson(`${base}${queued.json.result_url}`, (j) => j.status !== 'working', 30_000);
      expect(done).toMatchObject({ status: 'completed', result: { text: PIECES.join(''), engine: 'cloud' } });
      const at = cloud.requests.map((r) => r.at);
      expect(at).toHaveLength(4); // one try per delivery: the queue, not the engine, paces the retries
      // Without Retry-After the queue would retry within its 1 s tick (retry_base_ms = 100).
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(3000 - 5);
      expect(at[1]! - at[0]!).toBeLessThan(3000 + 2500);
      expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(2000 - 5);
      expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(3000 - 5);
      expect(at[3]! - at[2]!).toBeLessThan(3000 + 2500);
    } finally {
      await close();
    }
  }, 40_000);

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('Sun, 06 Dec 2026 23:00:00 GMT');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Sun, 06 Dec 2026 23:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Sun, 06 Dec 2026 22:00:00 GMT', now)).toBe(0); // a date past: at once
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-5', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it('REST: a completion the queue cannot take (larger than max_item_bytes) is refused as before, saying why', async () => {
    const { base, close } = await cloudOnly([{ kind: 'answer', pieces: PIECES }], { offline: { max_item_bytes: 256 } });
    try {
      const refused = await postJson(`${base}/v1/mcp/completions`, { prompt: 'x'.repeat(2000) });
      expect(refused.status).toBe(503);
      expect(refused.json.error.code).toBe('cloud_offline');
      expect(refused.json.error.message).toMatch(/could not be queued either: .*256/);
    } finally {
      await close();
    }
  }, 30_000);
});
