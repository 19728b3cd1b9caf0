// Draining a backlog (issue 13 §3), with real processes on 127.0.0.1: a
// sender gateway (test/fixtures/queue/drain-sender.mjs) delivers its queue
// to a destination mcp-edge (destination.mjs, effects in its SQLite file or
// in memory) through a counting proxy that sees every POST. Strict order
// where a destination asks for it, JSON-RPC batches where it does not, each
// call acknowledged once; a destination killed with SIGKILL in the middle of
// a batch loses nothing and repeats only what the idempotency contract
// allows; low power mode narrows the window.
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, freePort } from './helpers/gateway.js';
import { ROOT, tempDir, waitForOutput } from './helpers/processes.js';

const FIXTURES = join(ROOT, 'test/fixtures/queue');
const children = new Set<ChildProcess>();
const clients: Client[] = [];
const servers: Server[] = [];

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  for (const c of children) c.kill('SIGKILL');
  for (const s of servers) s.closeAllConnections(), s.close();
});

async function start(script: string, args: string[]): Promise<{ child: ChildProcess; url: string; exited: Promise<void> }> {
  const child = spawn(process.execPath, [join(FIXTURES, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (children.delete(child), resolve())));
  return { child, url: (await waitForOutput(child.stdout, /READY (\S+)/))[1]!, exited };
}

/** A destination mcp-edge: effects "sqlite" (in its file, in order) or "memory"; it answers `delayMs` after the effect. */
const destination = (dir: string, port: number, delayMs: number, inDoubt: 'rerun' | 'refuse', effects: 'sqlite' | 'memory') =>
  start('destination.mjs', [dir, String(port), String(delayMs), inDoubt, effects]);

const sender = (offline: Record<string, unknown>, power?: Record<string, unknown>) =>
  start('drain-sender.mjs', [tempDir('mcp-edge-drain-send-'), JSON.stringify({ offline: { retry_base_ms: 100, retry_jitter_percent: 0, sync_interval_seconds: 1, ...offline }, ...(power ? { power } : {}) })]);

async function client(url: string): Promise<Client> {
  const c = new Client({ name: 'drain-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  clients.push(c);
  return c;
}

async function callJson(c: Client, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const r = await c.callTool({ name, arguments: args });
  return JSON.parse((r.content as { text: string }[])[0]!.text);
}

async function status(url: string): Promise<any> {
  return (await fetch(new URL('/v1/queue/status', url))).json();
}

const drained = (url: string, ms = 60_000) => eventually(async () => ((await status(url)).depth === 0 ? true : undefined), ms, 'an empty queue');

/** The destination's effects in the order they happened (its SQLite file, rowid order). */
function effectsInOrder(dir: string): number[] {
  const db = new Database(join(dir, 'mcp-edge.db'), { readonly: true });
  try {
    return db.prepare('SELECT n FROM effects ORDER BY rowid').pluck().all() as number[];
  } finally {
    db.close();
  }
}

const countsOf = (ns: number[]) => ns.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<number, number>());
const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

interface ProxyStats {
  /** tools/call messages per JSON-RPC batch POST. */
  batches: number[];
  /** POSTs carrying a single tools/call. */
  singles: number;
  /** Most POSTs with tools/call in flight at once. */
  maxInFlight: number;
}

/** An HTTP proxy on 127.0.0.1 in front of `target` that counts the tools/call POSTs going through. */
async function countingProxy(target: string): Promise<{ url: string; stats: ProxyStats }> {
  const stats: ProxyStats = { batches: [], singles: 0, maxInFlight: 0 };
  let inFlight = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let calls = 0;
    if (req.method === 'POST') {
      const message = JSON.parse(body.toString('utf8')) as { method?: string } | { method?: string }[];
      if (Array.isArray(message)) stats.batches.push((calls = message.filter((m) => m.method === 'tools/call').length));
      else if (message.method === 'tools/call') (calls = 1), (stats.singles += 1);
    }
    if (calls > 0) stats.maxInFlight = Math.max(stats.maxInFlight, ++inFlight);
    try {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
      const answer = await fetch(target, { method: req.method!, headers, ...(req.method === 'POST' ? { body } : {}) });
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(k)) out[k] = v;
      });
      res.writeHead(answer.status, out);
      if (answer.body) {
        const reader = answer.body.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) res.write(r.value);
      }
      res.end();
    } catch {
      // The destination died under us: the sender sees the connection end.
      res.destroy();
    } finally {
      if (calls > 0) inFlight -= 1;
    }
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, stats };
}

// Each test waits up to 60 s for its queue to drain (`drained`); on a loaded 2-core machine a drain takes most of that.
describe('draining a backlog', { timeout: 120_000 }, () => {
  it('keeps strict order to an ordered destination with delivery_window 16; an unordered one beside it takes JSON-RPC batches', async () => {
    const dir = tempDir('mcp-edge-drain-dest-');
    const dest = await destination(dir, 0, 0, 'rerun', 'sqlite');
    const ordered = await countingProxy(dest.url);
    const unordered = await countingProxy(dest.url);
    const s = await sender({
      destinations: { ordered: { url: ordered.url, ordered: true, delivery_window: 16 }, unordered: { url: unordered.url, delivery_window: 16 } },
      deferrable_tools: { record: 'ordered' },
    });
    const c = await client(s.url);
    await Promise.all([callJson(c, 'enqueue_many', { destination: 'ordered', first: 0, count: 200 }), callJson(c, 'enqueue_many', { destination: 'unordered', first: 10_000, count: 200 })]);
    await drained(s.url);
    const effects = effectsInOrder(dir);
    expect(effects.filter((n) => n < 10_000)).toEqual(range(0, 200));
    expect(effects.filter((n) => n >= 10_000).sort((a, b) => a - b)).toEqual(range(10_000, 200));
    // One call at a time, one per POST, to the ordered destination.
    expect(ordered.stats).toMatchObject({ batches: [], singles: 200, maxInFlight: 1 });
    expect(unordered.stats.batches.length).toBeGreaterThan(0);
    expect(Math.max(...unordered.stats.batches)).toBeGreaterThan(1);
    const lanes = (await status(s.url)).destinations as { destination: string; window: number }[];
    expect(lanes.find((l) => l.destination === 'ordered')?.window).toBe(1);
  });

  it('delivers JSON-RPC batches with each call acknowledged exactly once, its own result on its own task', async () => {
    const dest = await destination(tempDir('mcp-edge-drain-dest-'), 0, 0, 'rerun', 'memory');
    const proxy = await countingProxy(dest.url);
    const s = await sender({ destinations: { dest: { url: proxy.url, max_items: 10_000 } }, deferrable_tools: { record: 'dest' }, delivery_window: 32 });
    const c = await client(s.url);
    await callJson(c, 'enqueue_many', { destination: 'dest', first: 0, count: 2000 });
    await drained(s.url);
    const report = (await callJson(c, 'tasks_report')) as Record<string, { state: string; text: string }>;
    expect(Object.keys(report)).toHaveLength(2000);
    for (const [n, t] of Object.entries(report)) expect(t).toEqual({ state: 'completed', text: `recorded ${n}` });
    const effects = await callJson(await client(dest.url), 'effects');
    expect(effects).toMatchObject({ distinct: 2000, repeated: 0 });
    // Each call crossed the wire once: no resend was needed, none answered from the idempotency memory.
    expect(proxy.stats.batches.reduce((a, b) => a + b, 0) + proxy.stats.singles).toBe(2000);
    expect(proxy.stats.batches.length).toBeGreaterThan(0);
    expect(Math.max(...proxy.stats.batches)).toBeGreaterThan(1);
    const memory = await (await fetch(new URL('/v1/idempotency/status', dest.url))).json();
    expect(memory.repeats_answered).toBe(0);
  });

  /**
   * The destination takes a batch, runs the effects, and is killed before it
   * answers (it would answer after 5 s); restarted on the same port and data,
   * it gets the calls again. Returns the effects in flight at the kill, the
   * effects at the end by n, and each task's end.
   */
  async function killMidBatch(inDoubt: 'rerun' | 'refuse') {
    const dir = tempDir('mcp-edge-drain-dest-');
    const port = await freePort();
    const first = await destination(dir, port, 5_000, inDoubt, 'sqlite');
    const s = await sender({ destinations: { dest: { url: `http://127.0.0.1:${port}/mcp`, max_items: 10_000 } }, deferrable_tools: { record: 'dest' }, delivery_window: 16 });
    const c = await client(s.url);
    await callJson(c, 'enqueue_many', { destination: 'dest', first: 0, count: 300 });
    await eventually(() => (effectsInOrder(dir).length >= 2 ? true : undefined), 20_000, 'effects of the first batch');
    first.child.kill('SIGKILL');
    await first.exited;
    const inFlightAtKill = new Set(effectsInOrder(dir));
    // The sender saw the link fail: the calls stay queued and its window halved.
    const lane = await eventually(async () => {
      const l = (await status(s.url)).destinations[0];
      return l.last_error ? l : undefined;
    }, 20_000, 'the failure in the sender status');
    expect(lane.depth).toBe(300);
    expect(lane.window).toBeLessThanOrEqual(4);
    await destination(dir, port, 0, inDoubt, 'sqlite');
    // Now, not after the backoff the failures earned.
    await fetch(new URL('/v1/queue/sync', s.url), { method: 'POST' });
    await drained(s.url);
    const tasks = (await callJson(c, 'tasks_report')) as Record<string, { state: string; text: string }>;
    return { inFlightAtKill, counts: countsOf(effectsInOrder(dir)), tasks };
  }

  it('a destination killed mid-batch ("rerun"): nothing lost; only the calls it was running when it died run again', async () => {
    const { inFlightAtKill, counts, tasks } = await killMidBatch('rerun');
    // Several calls were running at once: a batch was in the middle of its exchange.
    expect(inFlightAtKill.size).toBeGreaterThan(1);
    for (const n of range(0, 300)) {
      expect(tasks[n]).toEqual({ state: 'completed', text: `recorded ${n}` });
      expect(counts.get(n)).toBe(inFlightAtKill.has(n) ? 2 : 1);
    }
  });

  it('a destination killed mid-batch ("refuse"): nothing lost, nothing run twice; the calls it was running end as outcome unknown', async () => {
    const { inFlightAtKill, counts, tasks } = await killMidBatch('refuse');
    expect(inFlightAtKill.size).toBeGreaterThan(1);
    for (const n of range(0, 300)) {
      expect(counts.get(n) ?? 0).toBeLessThanOrEqual(1);
      expect(tasks[n]!.state).toBe('completed');
      if (inFlightAtKill.has(n)) expect(tasks[n]!.text).toMatch(/^Outcome unknown/);
      // A call the destination had marked started when it died, before its effect ran, is in doubt too, never lost silently: it did not run.
      else if (/^Outcome unknown/.test(tasks[n]!.text)) expect(counts.get(n) ?? 0).toBe(0);
      else {
        expect(tasks[n]!.text).toBe(`recorded ${n}`);
        expect(counts.get(n)).toBe(1);
      }
    }
    // Only calls of the batch in flight at the kill can be in doubt: at most one window (16) of them.
    const inDoubt = range(0, 300).filter((n) => /^Outcome unknown/.test(tasks[n]!.text));
    expect(inDoubt.length).toBeLessThanOrEqual(16);
  });

  it('low power mode narrows every window to 4 calls at once (an operator switches it at run time)', async () => {
    const dest = await destination(tempDir('mcp-edge-drain-dest-'), 0, 20, 'rerun', 'memory');
    const s = await sender({ destinations: { dest: { url: dest.url, max_items: 10_000 } }, deferrable_tools: { record: 'dest' }, delivery_window: 32 });
    const c = await client(s.url);
    const watch = await client(dest.url);
    await callJson(c, 'enqueue_many', { destination: 'dest', first: 0, count: 200 });
    await drained(s.url);
    const normal = await callJson(watch, 'effects');
    expect(normal.max_in_flight).toBeGreaterThan(4);

    const switched = await fetch(new URL('/v1/power', s.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'low' }) });
    expect((await switched.json()).mode).toBe('low');
    expect((await status(s.url)).destinations[0].window).toBeLessThanOrEqual(4);
    await callJson(c, 'enqueue_many', { destination: 'dest', first: 1000, count: 200 });
    // Low power gathers new calls for 10 s; a sync sends them now, still through the narrowed window.
    const sync = await (await fetch(new URL('/v1/queue/sync', s.url), { method: 'POST' })).json();
    expect(sync.delivered).toBe(200);
    const low = await callJson(watch, 'effects');
    expect(low).toMatchObject({ distinct: 400, repeated: 0 });
    expect(low.max_in_flight).toBeGreaterThanOrEqual(1);
    expect(low.max_in_flight).toBeLessThanOrEqual(4);
  });
});
