// The gateway's own Streamable HTTP client transport (lean-http.ts) under the
// SDK's Client, against a scripted upstream on 127.0.0.1 that answers the way
// a test asks: JSON or SSE answers, 202 for notifications, error statuses, a
// session id that changes or expires. The upstream sees the sockets, so
// keep-alive reuse is checked where it happens.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, LoggingMessageNotificationSchema, type LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import { LeanHttpTransport } from '../host/src/providers/upstream/lean-http.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

type Rpc = { jsonrpc: '2.0'; id?: number | string; method?: string; params?: Record<string, unknown> };
interface Seen { method: string; headers: IncomingMessage['headers']; body: Rpc | undefined; socket: Socket }

/** How the upstream answers: set by each test. */
let mode: { answer: 'json' | 'sse'; failWith?: number; session: string; expireSession?: string; hang?: boolean; rpcError?: boolean; endless?: boolean } = { answer: 'json', session: 's1' };
const seen: Seen[] = [];
let server: Server;
let url = '';

const result = (id: Rpc['id'], value: unknown) => JSON.stringify({ jsonrpc: '2.0', id, result: value });

function answer(req: IncomingMessage, res: ServerResponse, body: Rpc): void {
  if (mode.failWith) {
    res.writeHead(mode.failWith, { 'content-type': 'text/plain' });
    res.end('the upstream is out of order');
    return;
  }
  if (mode.expireSession && req.headers['mcp-session-id'] === mode.expireSession) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
    return;
  }
  if (body.id === undefined) {
    res.writeHead(202).end(); // a notification or a response
    return;
  }
  if (mode.hang && body.method === 'tools/call') {
    res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders(); // answers never
    return;
  }
  if (mode.endless && body.method === 'tools/call') {
    // A JSON answer that never ends: 1 MiB at a time while the connection lasts.
    res.writeHead(200, { 'content-type': 'application/json' });
    const mib = Buffer.alloc(1024 * 1024, 0x20);
    const more = () => {
      while (!res.destroyed && res.write(mib));
      if (!res.destroyed) res.once('drain', more);
    };
    res.write(`{"jsonrpc":"2.0","id":${JSON.stringify(body.id)},"result":{"content":[`);
    more();
    return;
  }
  if (mode.rpcError && body.method === 'tools/call') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: -32602, message: 'no such tool', data: { name: body.params?.name } } }));
    return;
  }
  const value = body.method === 'initialize'
    ? { protocolVersion: '2025-06-18', capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'scripted', version: '1' } }
    : { content: [{ type: 'text', text: `answer to ${String(body.params?.name)}` }] };
  const headers = { 'mcp-session-id': mode.session };
  if (mode.answer === 'json') {
    res.writeHead(200, { ...headers, 'content-type': 'application/json' });
    res.end(result(body.id, value));
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
  const log = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } });
  // The log event split across two writes: the parser must join them.
  res.write(`event: message\ndata: ${log.slice(0, 20)}`);
  setTimeout(() => res.end(`${log.slice(20)}\n\nevent: message\ndata: ${result(body.id, value)}\n\n`), 5);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Rpc) : undefined;
      seen.push({ method: req.method ?? '', headers: req.headers, body, socket: req.socket });
      if (req.method === 'GET') return void res.writeHead(405).end(); // no session stream here
      answer(req, res, body!);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const open: Client[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  seen.length = 0;
  mode = { answer: 'json', session: 's1' };
});

async function connect(target = url): Promise<{ client: Client; transport: LeanHttpTransport; errors: Error[] }> {
  const transport = new LeanHttpTransport(new URL(target), { headers: { authorization: 'Bearer t' }, upstream: 'scripted', timeoutMs: 5000 });
  const client = new Client({ name: 'test', version: '1' });
  const errors: Error[] = [];
  client.onerror = (e) => errors.push(e);
  open.push(client);
  await client.connect(transport);
  return { client, transport, errors };
}

const call = (client: Client, name: string) => client.request({ method: 'tools/call', params: { name } }, CallToolResultSchema);
const posts = () => seen.filter((s) => s.method === 'POST');

describe('the lean Streamable HTTP client transport', () => {
  it('takes JSON answers, and sends the session id, protocol version and configured headers once known', async () => {
    const { client } = await connect();
    expect((await call(client, 'a')).content).toEqual([{ type: 'text', text: 'answer to a' }]);
    const [init, initialized, toolCall] = posts();
    expect(init!.headers['mcp-session-id']).toBeUndefined();
    expect(initialized!.body?.method).toBe('notifications/initialized');
    expect([toolCall!.headers['mcp-session-id'], toolCall!.headers['mcp-protocol-version'], toolCall!.headers.authorization]).toEqual(['s1', '2025-06-18', 'Bearer t']);
    expect(toolCall!.headers.accept).toBe('application/json, text/event-stream');
  });

  it('takes SSE answers, with the notifications sent before the result, even when an event is split across chunks', async () => {
    mode.answer = 'sse';
    const { client } = await connect();
    const logs: LoggingMessageNotification['params'][] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
    expect((await call(client, 'b')).content).toEqual([{ type: 'text', text: 'answer to b' }]);
    expect(logs.map((l) => l.data)).toContain('working');
  });

  it('takes a 202 for the initialized notification, then asks for the session stream (405 here: none, and no error)', async () => {
    const { errors } = await connect();
    await expect.poll(() => seen.filter((s) => s.method === 'GET').length).toBe(1);
    const get = seen.find((s) => s.method === 'GET')!;
    expect([get.headers.accept, get.headers['mcp-session-id']]).toEqual(['text/event-stream', 's1']);
    expect(errors).toEqual([]);
  });

  it('fails a call with the upstream status and body when it answers with an error status', async () => {
    const { client } = await connect();
    mode.failWith = 503;
    const failure = await call(client, 'c').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StreamableHTTPError);
    expect((failure as StreamableHTTPError).code).toBe(503);
    expect((failure as Error).message).toContain('the upstream is out of order');
  });

  it('fails to connect to a dead upstream with the reason, at once', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as { port: number }).port;
    await new Promise((r) => dead.close(r));
    await expect(connect(`http://127.0.0.1:${port}/mcp`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('keeps its connections alive: calls reach the upstream on the sockets opened while connecting, none new', async () => {
    for (const answerMode of ['json', 'sse'] as const) {
      mode.answer = answerMode;
      const { client } = await connect();
      await expect.poll(() => seen.some((s) => s.method === 'GET')).toBe(true);
      const opened = new Set(seen.map((s) => s.socket));
      seen.length = 0;
      for (let i = 0; i < 40; i++) await call(client, `k${i}`);
      expect(posts()).toHaveLength(40);
      const used = new Set(posts().map((s) => s.socket));
      expect([answerMode, [...used].every((s) => opened.has(s))]).toEqual([answerMode, true]);
      expect(used.size).toBeLessThanOrEqual(opened.size);
    }
  });

  it('follows a session id the upstream changes', async () => {
    const { client, transport } = await connect();
    mode.session = 's2';
    await call(client, 'first');
    expect(transport.sessionId).toBe('s2');
    await call(client, 'second');
    expect(posts().at(-1)!.headers['mcp-session-id']).toBe('s2');
  });

  it('reports an expired session (404) as the SDK transport does: a StreamableHTTPError with code 404', async () => {
    const { client } = await connect();
    mode.expireSession = 's1';
    const failure = await call(client, 'late').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StreamableHTTPError);
    expect((failure as StreamableHTTPError).code).toBe(404);
  });

  it('closing ends the requests under way: the call fails and the upstream sees its connection go', async () => {
    const { client } = await connect();
    mode.hang = true;
    const pending = call(client, 'forever').catch((e: unknown) => e);
    await expect.poll(() => posts().some((s) => s.body?.params?.name === 'forever')).toBe(true);
    const socket = posts().find((s) => s.body?.params?.name === 'forever')!.socket;
    const gone = new Promise<void>((r) => (socket.destroyed ? r() : socket.once('close', () => r())));
    await client.close();
    expect(await pending).toBeInstanceOf(Error);
    await gone;
  });
});

// tools/call on the hot path: sent and answered by the transport itself (lean-call.ts), past the Client.
describe('direct requests of the lean transport', () => {
  const direct = (transport: LeanHttpTransport, name: string, options: { signal?: AbortSignal; timeout?: number } = {}) =>
    transport.directRequest({ method: 'tools/call', params: { name } }, { timeout: 5000, ...options });
  const cancellations = () => posts().filter((s) => s.body?.method === 'notifications/cancelled').map((s) => s.body?.params);

  it('answers JSON and SSE results under ids of their own, and the Client still gets the notifications', async () => {
    for (const answerMode of ['json', 'sse'] as const) {
      mode.answer = answerMode;
      const { client, transport, errors } = await connect();
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
      expect(await direct(transport, 'd')).toEqual({ content: [{ type: 'text', text: 'answer to d' }] });
      expect(posts().at(-1)!.body?.id).toMatch(/^mcp-edge-\d+$/);
      if (answerMode === 'sse') expect(logs).toContain('working');
      // The Client's own requests are untouched beside them.
      expect((await call(client, 'e')).content).toEqual([{ type: 'text', text: 'answer to e' }]);
      expect(errors).toEqual([]);
    }
  });

  // Regression: the answer was read whole however large, until the process ran out of memory.
  it('fails an answer past 64 MiB at once, and lets its connection go', async () => {
    const { transport } = await connect();
    mode.endless = true;
    const failure = await direct(transport, 'endless').catch((e: unknown) => e);
    expect((failure as Error).message).toMatch(/the answer is larger than 67108864 bytes/);
    const socket = posts().find((s) => s.body?.params?.name === 'endless')!.socket;
    await expect.poll(() => socket.destroyed).toBe(true);
    mode.endless = false;
    expect(await direct(transport, 'after')).toEqual({ content: [{ type: 'text', text: 'answer to after' }] });
  });

  it('rejects an error answer as McpError with its code and data', async () => {
    const { transport } = await connect();
    mode.rpcError = true;
    const failure = await direct(transport, 'missing').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(McpError);
    expect([(failure as McpError).code, (failure as McpError).data]).toEqual([-32602, { name: 'missing' }]);
  });

  it('cancels on the caller signal: rejects with its reason and tells the upstream the request id', async () => {
    const { transport } = await connect();
    mode.hang = true;
    const abort = new AbortController();
    const pending = direct(transport, 'forever', { signal: abort.signal }).catch((e: unknown) => e);
    await expect.poll(() => posts().some((s) => s.body?.params?.name === 'forever')).toBe(true);
    const id = posts().find((s) => s.body?.params?.name === 'forever')!.body!.id;
    abort.abort(new McpError(-32800, 'the client cancelled'));
    expect(((await pending) as McpError).message).toContain('the client cancelled');
    await expect.poll(cancellations).toEqual([{ requestId: id, reason: expect.stringContaining('the client cancelled') }]);
  });

  it('times out with RequestTimeout and cancels on the upstream', async () => {
    const { transport } = await connect();
    mode.hang = true;
    const failure = await direct(transport, 'slow', { timeout: 100 }).catch((e: unknown) => e);
    expect([(failure as McpError).code, (failure as McpError).data]).toEqual([ErrorCode.RequestTimeout, { timeout: 100 }]);
    await expect.poll(() => cancellations().length).toBe(1);
  });

  it('fails with ConnectionClosed when the transport closes under it', async () => {
    const { client, transport } = await connect();
    mode.hang = true;
    const pending = direct(transport, 'forever').catch((e: unknown) => e);
    await expect.poll(() => posts().some((s) => s.body?.params?.name === 'forever')).toBe(true);
    await client.close();
    expect(((await pending) as McpError).code).toBe(ErrorCode.ConnectionClosed);
  });
});
