// Resumable SSE answers from the gateway's own Streamable HTTP endpoint, on
// the wire: a POST's stream starts with a priming event (id, retry, empty
// data) for clients of 2025-11-25, every event has an id, a client that drops
// mid-call resumes with GET + Last-Event-ID and gets the rest exactly once,
// the SDK's own client does the same through a connection that is cut, and
// the store is bounded and refuses what it cannot replay.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { defineTool, type Gateway } from '../host/src/index.js';
import { startGateway } from './helpers/gateway.js';
import { ACCEPT_BOTH, CutProxy, messageOf, openSession, resume, toolCall, WireCall, type WireEvent } from './helpers/sse-wire.js';

/** Named points a tool waits at or reports reaching; the test drives them. */
const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
function gate(name: string) {
  let entry = gates.get(name);
  if (!entry) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    entry = { promise, open };
    gates.set(name, entry);
  }
  return entry;
}

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

/** The tools every gateway here offers. */
function addTools(gateway: Gateway): void {
  const run = z.object({ run: z.string() });
  gateway.plugins.registerTool(defineTool({
    name: 'scripted', description: 'Three progress steps; waits for the test between them.', input: run,
    handler: async ({ run: name }, context) => {
      await context.progress?.(1, 3);
      gate(`${name}:one`).open();
      await gate(`${name}:go-two`).promise;
      await context.progress?.(2, 3);
      gate(`${name}:two`).open();
      await gate(`${name}:go-three`).promise;
      await context.progress?.(3, 3);
      return text(`done ${name}`);
    },
  }));
  gateway.plugins.registerTool(defineTool({
    name: 'wait', description: 'Answers when the test says so, with no progress.', input: run,
    handler: async ({ run: name }) => {
      await gate(`${name}:go`).promise;
      return text(`waited ${name}`);
    },
  }));
  gateway.plugins.registerTool(defineTool({
    name: 'chatty', description: 'Reports `count` progress steps, then answers `size` characters.', input: z.object({ count: z.number(), size: z.number() }),
    handler: async ({ count, size }, context) => {
      for (let i = 1; i <= count; i++) await context.progress?.(i, count);
      return text('x'.repeat(size));
    },
  }));
  gateway.plugins.registerTool(defineTool({
    name: 'echo', description: 'Returns its text.', input: z.object({ text: z.string() }),
    handler: ({ text: value }) => text(value),
  }));
}

async function gatewayWith(config: Parameters<typeof startGateway>[0] = {}): Promise<{ gateway: Gateway; port: number }> {
  const gateway = await startGateway({ aggregation: { prefix_mode: 'never' }, ...config });
  addTools(gateway);
  return { gateway, port: Number(new URL(gateway.url).port) };
}

/** The gateway's event store gauges from GET /metrics. */
function storeMetrics(port: number): Promise<{ events: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => {
        const read = (name: string) => Number(body.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1] ?? NaN);
        resolve({ events: read('mcp_edge_event_store_events'), bytes: read('mcp_edge_event_store_bytes') });
      });
    }).on('error', reject).end();
  });
}

const streamKey = (e: WireEvent) => e.id?.split(':')[0];
const progressOf = (e: WireEvent) => messageOf(e).params.progress;

let port: number;
beforeAll(async () => {
  ({ port } = await gatewayWith({ gateway: { stream_after_ms: 200 } }));
});

describe('resumable answers', () => {
  it('start with a priming event (id, retry, empty data) for a 2025-11-25 client; every event has an id of the same stream', async () => {
    const session = await openSession(port, '2025-11-25');
    const post = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(1, 'scripted', { run: 'prime' }, 'tok'));
    await post.until(() => post.events.length >= 2, 'the priming event and the first progress');
    gate('prime:go-two').open();
    gate('prime:go-three').open();
    await post.end();
    expect(post.headers['content-type']).toBe('text/event-stream');
    const [priming, ...rest] = post.events;
    const key = streamKey(priming!);
    expect(priming).toEqual({ id: `${key}:0`, retry: 1000, data: '' });
    expect(rest.map((e) => e.id)).toEqual([1, 2, 3, 4].map((n) => `${key}:${n}`));
    expect(rest.map((e) => messageOf(e).method ?? `result ${messageOf(e).id}`)).toEqual(['notifications/progress', 'notifications/progress', 'notifications/progress', 'result 1']);
  });

  it('carry ids but no priming event for a 2025-06-18 client (it may not expect empty data)', async () => {
    const session = await openSession(port, '2025-06-18');
    const post = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(2, 'chatty', { count: 2, size: 3 }, 'tok'));
    await post.end();
    const key = streamKey(post.events[0]!);
    expect(post.events.map((e) => [e.id, e.retry])).toEqual([1, 2, 3].map((n) => [`${key}:${n}`, undefined]));
    expect(post.events.every((e) => e.data !== '')).toBe(true);
  });

  it('keep the fast path: a call answered at once is one JSON body, and nothing is stored', async () => {
    const session = await openSession(port, '2025-11-25');
    const before = await storeMetrics(port);
    const post = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(3, 'echo', { text: 'quick' }));
    await post.end();
    expect(post.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post.text).result.content[0].text).toBe('quick');
    expect(await storeMetrics(port)).toEqual(before);
  });
});

describe('a client that drops its connection mid-call', () => {
  it('resumes with GET + Last-Event-ID and gets the remaining events and the result exactly once', async () => {
    const session = await openSession(port, '2025-11-25');
    const post = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(4, 'scripted', { run: 'drop' }, 'tok'));
    await post.until(() => post.events.length >= 2, 'the priming event and the first progress');
    post.cut();
    const lastSeen = post.events[1]!.id!;
    const key = streamKey(post.events[1]!);
    // The second step happens while the client is away: it is kept for the resume.
    gate('drop:go-two').open();
    await gate('drop:two').promise;
    const back = resume(port, session, lastSeen);
    await back.until(() => back.events.length >= 1, 'the replayed second progress');
    // The rest happens live on the resumed connection.
    gate('drop:go-three').open();
    await back.end();
    expect(back.status).toBe(200);
    expect(back.events.map((e) => e.id)).toEqual([`${key}:2`, `${key}:3`, `${key}:4`]);
    expect(back.events.slice(0, 2).map(progressOf)).toEqual([2, 3]);
    expect(messageOf(back.events[2]!)).toMatchObject({ id: 4, result: { content: [{ text: 'done drop' }] } });
    expect(post.events).toHaveLength(2);
  });

  it('replays the whole answer and ends when the call finished while it was away', async () => {
    const session = await openSession(port, '2025-11-25');
    const post = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(5, 'chatty', { count: 2, size: 5 }, 'tok'));
    await post.end();
    const key = streamKey(post.events[0]!);
    const again = resume(port, session, `${key}:0`);
    await again.end();
    expect(again.events.map((e) => e.data)).toEqual(post.events.slice(1).map((e) => e.data));
  });

  it('gets a primed stream for a call that runs past gateway.stream_after_ms with nothing to report, and resumes it', async () => {
    const session = await openSession(port, '2025-11-25');
    const post = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(6, 'wait', { run: 'slow' }));
    await post.until(() => post.events.length >= 1, 'the priming event');
    expect(post.headers['content-type']).toBe('text/event-stream');
    const priming = post.events[0]!;
    expect(priming.data).toBe('');
    post.cut();
    gate('slow:go').open();
    const back = resume(port, session, priming.id!);
    await back.end();
    expect(back.events.map(messageOf)).toMatchObject([{ id: 6, result: { content: [{ text: 'waited slow' }] } }]);
  });

  it('keeps the JSON answer for a 2025-06-18 client however long the call runs', async () => {
    const session = await openSession(port, '2025-06-18');
    const post = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(7, 'wait', { run: 'old' }));
    // Twice stream_after_ms: a 2025-11-25 client would have its priming event by now.
    await new Promise((r) => setTimeout(r, 400));
    expect(post.status).toBe(0);
    gate('old:go').open();
    await post.end();
    expect(post.headers['content-type']).toBe('application/json');
  });
});

describe('the SDK client through a connection that is cut mid-call', () => {
  let proxy: CutProxy;
  beforeAll(async () => {
    proxy = await CutProxy.start();
    const { port: target } = await gatewayWith({ gateway: { allowed_hosts: [`127.0.0.1:${proxy.port}`] } });
    proxy.to(target);
  });
  afterAll(() => proxy.close());

  it('resumes the stream by itself and completes the call, each progress once', async () => {
    const client = new Client({ name: 'cut-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${proxy.port}/mcp`)));
    try {
      const progress: number[] = [];
      let firstProgress!: () => void;
      const gotFirst = new Promise<void>((r) => (firstProgress = r));
      const call = client.callTool({ name: 'scripted', arguments: { run: 'sdk' } }, undefined, {
        onprogress: (p) => {
          progress.push(p.progress);
          firstProgress();
        },
        timeout: 20_000,
      });
      await gotFirst;
      expect(proxy.cutAll()).toBeGreaterThan(0);
      gate('sdk:go-two').open();
      gate('sdk:go-three').open();
      const result = await call;
      expect((result.content as { text: string }[])[0]!.text).toBe('done sdk');
      expect(progress).toEqual([1, 2, 3]);
      expect(proxy.openings.some((o) => /^GET \/mcp/.test(o) && /\r\nlast-event-id: \d+:1\r\n/i.test(o))).toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe('resumes the gateway refuses', () => {
  it('refuses a malformed or oversized Last-Event-ID, and an id of another session or not sent yet', async () => {
    const a = await openSession(port, '2025-11-25');
    const b = await openSession(port, '2025-11-25');
    const post = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...a }, toolCall(8, 'chatty', { count: 1, size: 1 }, 'tok'));
    await post.end();
    const key = streamKey(post.events[0]!);
    const cases: [Record<string, string>, string, RegExp][] = [
      [a, 'abc', /Last-Event-ID "abc" is not an event id of this gateway/],
      [a, '1'.repeat(1000), /is not an event id of this gateway/],
      [b, `${key}:1`, new RegExp(`Last-Event-ID ${key}:1 names no event sent in this session`)],
      [a, `${key}:99`, /names no event sent in this session/],
    ];
    for (const [session, id, why] of cases) {
      const res = resume(port, session, id);
      await res.end();
      expect([res.status, JSON.parse(res.text).error.message]).toEqual([400, expect.stringMatching(why)]);
    }
    const huge = resume(port, a, '1'.repeat(20_000));
    await huge.end();
    expect(huge.status).toBe(431);
  });
});

describe('the event store bounds', () => {
  let bounded: number;
  beforeAll(async () => {
    ({ port: bounded } = await gatewayWith({ gateway: { event_store_max_events: 4, event_store_max_bytes: 4096, stream_after_ms: 0 } }));
  });

  it('keeps the newest events of a session and refuses (410) a resume from before the oldest kept', async () => {
    const session = await openSession(bounded, '2025-11-25');
    const post = new WireCall(bounded, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(1, 'chatty', { count: 10, size: 5 }, 'tok'));
    await post.end();
    const key = streamKey(post.events[0]!);
    expect(post.events.map((e) => e.id).at(-1)).toBe(`${key}:11`);
    expect((await storeMetrics(bounded)).events).toBe(4);
    const gone = resume(bounded, session, `${key}:6`);
    await gone.end();
    expect(gone.status).toBe(410);
    expect(JSON.parse(gone.text).error.message).toMatch(/events after \d+:6 are no longer kept .*last 4 events and 4096 bytes.*event_store_max_events/);
    const kept = resume(bounded, session, `${key}:7`);
    await kept.end();
    expect(kept.events.map((e) => e.id)).toEqual([8, 9, 10, 11].map((n) => `${key}:${n}`));
  });

  it('bounds each session on its own, and frees a session store when it closes', async () => {
    const start = await storeMetrics(bounded);
    const sessions = await Promise.all([1, 2, 3].map(() => openSession(bounded, '2025-11-25')));
    for (const session of sessions) await new WireCall(bounded, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(1, 'chatty', { count: 10, size: 5 }, 'tok')).end();
    expect((await storeMetrics(bounded)).events).toBe(start.events + 3 * 4);
    for (const session of sessions) await new WireCall(bounded, 'DELETE', session).end();
    expect(await storeMetrics(bounded)).toEqual(start);
    const after = resume(bounded, sessions[0]!, '1:1');
    await after.end();
    expect(after.status).toBe(404);
  });

  it('sends but does not keep an event larger than event_store_max_bytes; a resume that needs it is refused', async () => {
    const session = await openSession(bounded, '2025-11-25');
    const before = await storeMetrics(bounded);
    const post = new WireCall(bounded, 'POST', { ...ACCEPT_BOTH, ...session }, toolCall(1, 'chatty', { count: 1, size: 6000 }, 'tok'));
    await post.end();
    expect(messageOf(post.events.at(-1)!).result.content[0].text).toHaveLength(6000);
    const key = streamKey(post.events[0]!);
    // Only the progress event is kept.
    expect((await storeMetrics(bounded)).events).toBe(before.events + 1);
    const gone = resume(bounded, session, `${key}:1`);
    await gone.end();
    expect(gone.status).toBe(410);
  });
});
