// The gateway's own Streamable HTTP transport, on the wire: the answer format
// it picks per POST (one JSON body, or an SSE stream when progress comes
// first), batches, 202 for notifications, the GET stream, DELETE, and the
// typed refusals for bad headers, bad messages and bad sessions.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, type Gateway } from '../host/src/index.js';
import { eventually, startGateway } from './helpers/gateway.js';

let gateway: Gateway;
let port: number;
/** The tool `held` answers once this is called. */
let releaseHeld: () => void;
const held = new Promise<void>((resolve) => (releaseHeld = resolve));
/** The calls of `waits` running now, and what lets them answer. */
let waiting = 0;
let releaseWaits: () => void;
const waits = new Promise<void>((resolve) => (releaseWaits = resolve));

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(method: string, headers: Record<string, string>, body?: unknown, toPort = port): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: toPort, path: '/mcp', method,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

/** The JSON-RPC messages in an SSE body, in order. */
function events(text: string): any[] {
  return text.split('\n\n').filter((e) => e.includes('data: ')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)));
}

const call = (id: number, name: string, args: object, meta?: object) =>
  ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } });

async function openSession(): Promise<Record<string, string>> {
  const init = await send('POST', {}, {
    jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'wire-test', version: '0' } },
  });
  expect(init.status).toBe(200);
  const headers = { 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-06-18' };
  expect((await send('POST', headers, { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
  return headers;
}

beforeAll(async () => {
  gateway = await startGateway({ aggregation: { prefix_mode: 'never' } });
  gateway.plugins.registerTool(defineTool({
    name: 'echo', description: 'Returns its text.', input: z.object({ text: z.string() }),
    handler: ({ text }) => ({ content: [{ type: 'text', text }] }),
  }));
  gateway.plugins.registerTool(defineTool({
    name: 'steps', description: 'Reports two progress steps, then answers.', input: z.object({}),
    handler: async (_args, context) => {
      await context.progress?.(1, 2, 'first');
      await context.progress?.(2, 2, 'second');
      return { content: [{ type: 'text', text: 'done' }] };
    },
  }));
  gateway.plugins.registerTool(defineTool({
    name: 'held', description: 'Reports progress, then answers when the test releases it.', input: z.object({}),
    handler: async (_args, context) => {
      await context.progress?.(1, 2, 'started');
      await held;
      return { content: [{ type: 'text', text: 'released' }] };
    },
  }));
  gateway.plugins.registerTool(defineTool({
    name: 'waits', description: 'Answers when the test releases it.', input: z.object({}),
    handler: async () => {
      waiting++;
      await waits;
      return { content: [{ type: 'text', text: 'waited' }] };
    },
  }));
  port = Number(new URL(gateway.url).port);
});

afterAll(() => gateway.close());

describe('answers', () => {
  it('answers a plain call with one application/json body', async () => {
    const session = await openSession();
    const res = await send('POST', session, call(1, 'echo', { text: 'hi' }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['mcp-session-id']).toBe(session['mcp-session-id']);
    expect(JSON.parse(res.text)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'hi' }] } });
  });

  it('switches to an SSE stream when progress comes before the result', async () => {
    const session = await openSession();
    const res = await send('POST', session, call(7, 'steps', {}, { progressToken: 'p7' }));
    expect(res.headers['content-type']).toBe('text/event-stream');
    const messages = events(res.text);
    expect(messages.map((m) => m.method ?? `result ${m.id}`)).toEqual(['notifications/progress', 'notifications/progress', 'result 7']);
    expect(messages[1].params).toMatchObject({ progressToken: 'p7', progress: 2, total: 2, message: 'second' });
  });

  it('answers a batch of two calls with both responses in one JSON array', async () => {
    const session = await openSession();
    const res = await send('POST', session, [call(1, 'echo', { text: 'a' }), call(2, 'echo', { text: 'b' })]);
    const replies = JSON.parse(res.text) as any[];
    expect(replies.map((r) => [r.id, r.result.content[0].text]).sort()).toEqual([[1, 'a'], [2, 'b']]);
  });

  it('accepts a POST of notifications only with 202 and no body', async () => {
    const session = await openSession();
    const res = await send('POST', session, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 99 } });
    expect([res.status, res.text]).toEqual([202, '']);
  });

  it('keeps serving other calls when a client hangs up before its answer', async () => {
    const session = await openSession();
    // Hang up once the answer has started (its first progress event), before the result exists.
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...session } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end(JSON.stringify(call(5, 'held', {}, { progressToken: 1 })));
    });
    releaseHeld();
    const res = await send('POST', session, call(6, 'echo', { text: 'still here' }));
    expect(JSON.parse(res.text).result.content[0].text).toBe('still here');
  });
});

describe('sessions', () => {
  it('allows one GET stream per session and refuses a second with 409', async () => {
    const session = await openSession();
    const first = await new Promise<{ status: number; close: () => void }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/mcp', method: 'GET', headers: { accept: 'text/event-stream', ...session } }, (res) => {
        resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
    expect([first.status]).toEqual([200]);
    const second = await send('GET', { accept: 'text/event-stream', ...session });
    expect(second.status).toBe(409);
    first.close();
  });

  it('ends a session on DELETE; the id is unknown afterwards', async () => {
    const session = await openSession();
    expect((await send('DELETE', session)).status).toBe(200);
    const after = await send('POST', session, call(1, 'echo', { text: 'x' }));
    expect(after.status).toBe(404);
    expect(JSON.parse(after.text).error.code).toBe(-32001);
  });

  it('refuses a second initialize on an open session', async () => {
    const session = await openSession();
    const res = await send('POST', session, { jsonrpc: '2.0', id: 9, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } } });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.message).toMatch(/already initialized/);
  });
});

describe('refusals', () => {
  it('needs both JSON and SSE in Accept on POST (406)', async () => {
    const session = await openSession();
    const res = await send('POST', { ...session, accept: 'application/json' }, call(1, 'echo', { text: 'x' }));
    expect(res.status).toBe(406);
    expect(JSON.parse(res.text).error.message).toMatch(/text\/event-stream/);
  });

  it('needs a JSON Content-Type (415), parameters allowed', async () => {
    const session = await openSession();
    expect((await send('POST', { ...session, 'content-type': 'text/plain' }, call(1, 'echo', { text: 'x' }))).status).toBe(415);
    expect((await send('POST', { ...session, 'content-type': 'application/json; charset=utf-8' }, call(1, 'echo', { text: 'x' }))).status).toBe(200);
  });

  it('names what is wrong with a message that is JSON but not JSON-RPC', async () => {
    const session = await openSession();
    const cases: [unknown, RegExp][] = [
      [{ jsonrpc: '1.0', id: 1, method: 'ping' }, /"jsonrpc" must be "2.0"/],
      [{ jsonrpc: '2.0', id: {}, method: 'ping' }, /"id" must be a string or an integer/],
      [{ jsonrpc: '2.0', id: 4.5, method: 'ping' }, /"id" must be a string or an integer/],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: [1] }, /"params" must be an object/],
      [[], /empty batch/],
      [[{ jsonrpc: '2.0', method: 'ping', id: 1 }, 42], /batch item 1/],
    ];
    for (const [body, why] of cases) {
      const res = await send('POST', session, body);
      expect(res.status).toBe(400);
      const { error } = JSON.parse(res.text);
      expect(error.code).toBe(-32600);
      expect(error.message).toMatch(why);
    }
  });

  // Regression: the first POST was never answered (its answer went to the second POST, which had taken its id).
  it('refuses a request whose id is still in flight in the session, and still answers the first; an answered id may come again', async () => {
    const session = await openSession();
    const first = send('POST', session, call(3, 'waits', {}));
    await eventually(() => (waiting === 1 ? true : undefined), 10_000, 'the first call to run');
    const second = await send('POST', session, call(3, 'echo', { text: 'again' }));
    expect(second.status).toBe(400);
    expect(JSON.parse(second.text)).toMatchObject({ id: null, error: { code: -32600, message: expect.stringMatching(/request id 3 is still in flight/) } });
    // Another session's ids are its own.
    const other = await send('POST', await openSession(), call(3, 'echo', { text: 'elsewhere' }));
    expect(JSON.parse(other.text)).toMatchObject({ id: 3, result: { content: [{ text: 'elsewhere' }] } });
    releaseWaits();
    const answered = await first;
    expect(JSON.parse(answered.text)).toMatchObject({ id: 3, result: { content: [{ text: 'waited' }] } });
    const again = await send('POST', session, call(3, 'echo', { text: 'again' }));
    expect(JSON.parse(again.text)).toMatchObject({ id: 3, result: { content: [{ text: 'again' }] } });
  });

  // Regression: the batch was answered with one response, the other dropped.
  it('refuses a batch that carries one request id twice, and runs none of it', async () => {
    const session = await openSession();
    const before = waiting;
    const res = await send('POST', session, [call(4, 'waits', {}), call(4, 'echo', { text: 'b' })]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error).toMatchObject({ code: -32600, message: expect.stringMatching(/request id 4 more than once/) });
    // 1 and "1" are different ids.
    const mixed = await send('POST', session, [call(5, 'echo', { text: 'number' }), { ...call(5, 'echo', { text: 'string' }), id: '5' }]);
    expect((JSON.parse(mixed.text) as any[]).map((r) => [r.id, r.result.content[0].text]).sort()).toEqual([[5, 'number'], ['5', 'string']]);
    expect(waiting).toBe(before);
  });

  // Regression: the SDK's handler wrapper let the ZodError through, answered as an internal error (-32603) with zod's JSON dump.
  it("answers params the SDK's schemas refuse with invalid params and a sentence naming the member", async () => {
    const session = await openSession();
    const cases: [string, object | undefined, RegExp][] = [
      ['logging/setLevel', { level: 'loud' }, /^MCP error -32602: logging\/setLevel: level: Invalid option: expected one of "debug"/],
      ['logging/setLevel', undefined, /^MCP error -32602: logging\/setLevel: /],
      ['resources/list', { cursor: 7 }, /^MCP error -32602: resources\/list: cursor: Invalid input: expected string, received number$/],
      ['prompts/get', { name: 'any', arguments: { a: 1 } }, /^MCP error -32602: prompts\/get: arguments\.a: Invalid input: expected string, received number$/],
    ];
    for (const [method, params, why] of cases) {
      const res = await send('POST', session, { jsonrpc: '2.0', id: 9, method, ...(params ? { params } : {}) });
      const { error } = JSON.parse(res.text);
      expect([method, error.code]).toEqual([method, -32602]);
      expect(error.message).toMatch(why);
    }
    // Valid ones still pass: a list without params, a known level.
    expect(JSON.parse((await send('POST', session, { jsonrpc: '2.0', id: 10, method: 'resources/list' })).text).result.resources).toBeInstanceOf(Array);
    expect(JSON.parse((await send('POST', session, { jsonrpc: '2.0', id: 11, method: 'logging/setLevel', params: { level: 'info' } })).text).result).toEqual({});
  });

  it('refuses an unsupported MCP-Protocol-Version header with the supported list', async () => {
    const session = await openSession();
    const res = await send('POST', { ...session, 'mcp-protocol-version': '1999-01-01' }, call(1, 'echo', { text: 'x' }));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.message).toMatch(/1999-01-01.*2025-06-18/);
  });

  it('answers other methods with 405 and an Allow header', async () => {
    const res = await send('PUT', {}, '{}');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, POST, DELETE');
  });
});

describe('idle sessions', () => {
  it('closes a session idle past gateway.session_idle_seconds, never one in use, and counts idle time from the last use', async () => {
    const idle = await startGateway({ gateway: { session_idle_seconds: 1 } });
    const idlePort = Number(new URL(idle.url).port);
    const at = (method: string, headers: Record<string, string>, body?: unknown) => send(method, headers, body, idlePort);
    const open = async () => {
      const init = await at('POST', {}, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'idle', version: '0' } } });
      return { 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-06-18' };
    };
    // In use: a session whose GET stream is open, for the whole test.
    const busy = await open();
    const busyStream = await openStream(idlePort, busy);
    // Idle after a use: a GET stream held past the limit, then closed.
    const quiet = await open();
    expect((await at('POST', quiet, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(200);
    const quietStream = await openStream(idlePort, quiet);
    // Held past the limit, so a clock started at the ping or the session's start would close it at once.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(idle.health().sessions).toBe(2);
    const lastUse = Date.now();
    quietStream.close();
    // Watched through the gateway's session count: reading it is no activity of the session.
    await eventually(() => (idle.health().sessions === 1 ? true : undefined), 10_000, 'the idle session to close');
    // Idle time counted from the end of the use, not from the session's start or its last request.
    expect(Date.now() - lastUse).toBeGreaterThanOrEqual(1_000);
    expect((await at('POST', quiet, { jsonrpc: '2.0', id: 2, method: 'ping' })).status).toBe(404);
    expect((await at('POST', busy, { jsonrpc: '2.0', id: 2, method: 'ping' })).status).toBe(200);
    busyStream.close();
  });
});

/** Opens a session's GET stream; resolves once the gateway answered it. */
function openStream(toPort: number, session: Record<string, string>): Promise<{ close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: toPort, path: '/mcp', method: 'GET', headers: { accept: 'text/event-stream', ...session } }, (res) => {
      if (res.statusCode === 200) resolve({ close: () => req.destroy() });
      else reject(new Error(`GET stream answered ${res.statusCode}`));
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}
