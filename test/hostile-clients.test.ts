// Probes a hostile client sent to a default gateway (issue 12, "Found when
// tried as a hostile client would"), each a named regression test over real
// sockets on 127.0.0.1.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../host/src/telemetry/log.js';
import { eventually, startGateway } from './helpers/gateway.js';
import { answerOf, closedByPeer, CHUNKED_MCP_POST, health, openSession, openSocket, openStream, rawRequest, requestHead, rpc } from './helpers/raw-http.js';

const portOf = (url: string) => Number(new URL(url).port);

describe('probe: tools/call with arguments that are not an object', () => {
  it('answers arguments null, [] and a string with invalid params (-32602) and a sentence, not a schema dump', async () => {
    const port = portOf((await startGateway()).url);
    const session = await openSession(port);
    for (const [args, kind] of [[null, 'null'], [[], 'an array'], ['x', 'a string']] as const) {
      const answer = await rpc(port, session, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'count_tokens', arguments: args } });
      expect(answer.json.error, kind).toEqual({
        code: -32602,
        message: `MCP error -32602: tools/call "count_tokens": "arguments" must be an object of argument names to values, or left out; got ${kind}.`,
      });
    }
    const nameless = await rpc(port, session, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { arguments: {} } });
    expect(nameless.json.error).toEqual({ code: -32602, message: 'MCP error -32602: tools/call needs "name", the tool to call, as a non-empty string; got nothing.' });
    const badTask = await rpc(port, session, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'count_tokens', arguments: {}, task: 5 } });
    expect(badTask.json.error).toEqual({ code: -32602, message: 'MCP error -32602: tools/call "count_tokens": task: Invalid input: expected object, received number' });
  });
});

describe('probe: a message the MCP SDK cannot classify', () => {
  // The SDK's Protocol drops such a message without an answer; the POST waiting for it hung until the client gave up.
  it('is refused with 400 and what is wrong, instead of a POST that is never answered', async () => {
    const port = portOf((await startGateway()).url);
    const session = await openSession(port);
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const cases: [object, string][] = [
      [{ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'count_tokens', arguments: {}, _meta: 5 } }, 'params._meta: Invalid input: expected object, received number'],
      [{ jsonrpc: '2.0', id: 9, method: 'tools/list', extra: 1 }, 'Unrecognized key: "extra"'],
      [{ jsonrpc: '2.0', method: 'notifications/initialized', extra: 1 }, 'Unrecognized key: "extra"'],
      [{ jsonrpc: '2.0', id: 3, result: {}, extra: 1 }, 'a response has only "jsonrpc", "id" and one of "result" or "error"'],
    ];
    for (const [message, why] of cases) {
      const answer = await rawRequest(port, 'POST', '/mcp', headers, JSON.stringify(message));
      expect(answer.status, why).toBe(400);
      expect(answer.json.error, why).toEqual({ code: -32600, message: `Invalid Request: ${why}.` });
    }
  });
});

describe('probe: connection exhaustion, idle (connections that send nothing)', () => {
  it('answers /health while ten times max_connections sit silent, by closing the oldest silent ones', async () => {
    const gateway = await startGateway({ gateway: { max_connections: 50 } });
    const port = portOf(gateway.url);
    const silent: Socket[] = [];
    for (let i = 0; i < 500; i++) silent.push(await openSocket(port));
    const answer = await health(port);
    expect(answer.status).toBe(200);
    const metrics = (await rawRequest(port, 'GET', '/metrics')).text;
    expect(Number(metrics.match(/^mcp_edge_connections_evicted_total (\d+)$/m)?.[1])).toBeGreaterThanOrEqual(450);
    expect(Number(metrics.match(/^mcp_edge_connections (\d+)$/m)?.[1])).toBeLessThanOrEqual(50);
    // The oldest silent ones made room (450 for the silent newcomers, one each for /health and /metrics); the newest stay.
    await Promise.all(silent.slice(0, 452).map(closedByPeer));
    expect(silent.slice(452).filter((s) => s.destroyed)).toEqual([]);
  });

  it('closes a connection that sends nothing after gateway.header_timeout_ms, even when nobody needs its place', async () => {
    const gateway = await startGateway({ gateway: { header_timeout_ms: 500, body_timeout_ms: 1000 } });
    const socket = await openSocket(portOf(gateway.url));
    const opened = Date.now();
    await closedByPeer(socket);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(450);
  });

  it('closes a connection whose headers never end (slowloris headers) at the same limit', async () => {
    const gateway = await startGateway({ gateway: { header_timeout_ms: 500, body_timeout_ms: 1000 } });
    const port = portOf(gateway.url);
    const socket = await openSocket(port);
    const answer = answerOf(socket);
    socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: a`);
    expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('probe: slow body (slowloris), a chunked POST body one byte at a time', () => {
  it('answers 408 and closes the connection when the body is not in after gateway.body_timeout_ms', async () => {
    const gateway = await startGateway({ gateway: { header_timeout_ms: 500, body_timeout_ms: 1000 } });
    const port = portOf(gateway.url);
    const socket = await openSocket(port);
    const answer = answerOf(socket);
    const sent = Date.now();
    socket.write(requestHead(port, 'POST', '/mcp', CHUNKED_MCP_POST) + '1\r\n{\r\n');
    expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(950);
  });

  it('answers /health while max_connections slow bodies are open, by closing the oldest of them', async () => {
    const gateway = await startGateway({ gateway: { max_connections: 20 } });
    const port = portOf(gateway.url);
    const slow: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = await openSocket(port);
      // "100 Continue" comes once the gateway took the request: its body is being read when the newcomer arrives.
      const accepted = new Promise((resolve) => socket.once('data', resolve));
      socket.write(requestHead(port, 'POST', '/mcp', { ...CHUNKED_MCP_POST, Expect: '100-continue' }));
      expect(String(await accepted)).toMatch(/^HTTP\/1\.1 100 Continue/);
      socket.write('1\r\n{\r\n');
      slow.push(socket);
    }
    expect((await health(port)).status).toBe(200);
    await closedByPeer(slow[0]!);
    expect(slow.slice(1).some((s) => s.destroyed)).toBe(false);
  });
});

describe('probe: a list cursor the gateway did not issue', () => {
  // It was ignored: a client that made one up got the first page again, as if it were the next.
  it('is invalid params (-32602) on each list method; a list without one is served', async () => {
    const port = portOf((await startGateway()).url);
    const session = await openSession(port);
    for (const method of ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']) {
      const answer = await rpc(port, session, { jsonrpc: '2.0', id: 3, method, params: { cursor: 'page-2' } });
      expect(answer.json.error, method).toEqual({
        code: -32602,
        message: `MCP error -32602: ${method}: cursor "page-2" was not issued by this gateway: it lists everything in one page, and sends no nextCursor.`,
      });
    }
    const listed = await rpc(port, session, { jsonrpc: '2.0', id: 4, method: 'tools/list', params: {} });
    expect(listed.json.result.tools.length).toBeGreaterThan(0);
    expect(listed.json.result.nextCursor).toBeUndefined();
  });
});

describe('probe: a client that hangs up in the middle of its body', () => {
  // Node destroys such a request with an "aborted" error: it was logged as the gateway's own failure, with a stack,
  // one ERROR line per connection anyone could open.
  it('is not logged as a failure of the gateway, and the gateway serves on', async () => {
    const lines: string[] = [];
    const gateway = await startGateway({}, createLogger('info', (line) => lines.push(line), 'json'));
    const port = portOf(gateway.url);
    for (const expect100 of [false, true]) {
      const socket = await openSocket(port);
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Content-Length': '1000', ...(expect100 ? { Expect: '100-continue' } : {}) };
      const taken = new Promise((resolve) => socket.once('data', resolve));
      socket.write(requestHead(port, 'POST', '/mcp', headers) + (expect100 ? '' : '{"jsonrpc":'));
      if (expect100) await taken;
      else await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
    }
    // Its close is handled when the connection leaves the count: only the scrape's own is left.
    await eventually(async () => /^mcp_edge_connections 1$/m.test((await rawRequest(port, 'GET', '/metrics')).text) || undefined, 5000, 'the hung-up connections to close');
    expect(lines.filter((line) => line.includes('"level":"error"'))).toEqual([]);
    expect((await health(port)).status).toBe(200);
  });
});

describe('probe: a header that must come once, sent twice', () => {
  // Node reads the first Host and the first Authorization and drops the rest; a proxy that read another one
  // would judge a different request than the one served.
  it('answers 400 to a second Host or a second Authorization, and serves the same request with one', async () => {
    const port = portOf((await startGateway()).url);
    const send = async (extra: string) => {
      const socket = await openSocket(port);
      const answer = answerOf(socket);
      socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}Connection: close\r\n\r\n`);
      return answer;
    };
    expect(await send('')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await send('Authorization: Bearer a\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    const hosts = await send('host: evil.example\r\n');
    expect(hosts).toMatch(/^HTTP\/1\.1 400 /);
    expect(hosts).toContain('the Host header must be sent once; this request has more than one.');
    const authorizations = await send('Authorization: Bearer a\r\nAUTHORIZATION: Bearer b\r\n');
    expect(authorizations).toMatch(/^HTTP\/1\.1 400 /);
    expect(authorizations).toContain('the Authorization header must be sent once');
  });
});

describe('probe: a body over max_body_bytes', () => {
  it('is answered 413 and the connection closed as soon as the limit is passed, not read to the end', async () => {
    const gateway = await startGateway({ gateway: { max_body_bytes: 1 << 20 } });
    const port = portOf(gateway.url);
    const socket = await openSocket(port);
    const answer = answerOf(socket);
    const total = 128 << 20;
    const chunk = Buffer.alloc(64 << 10, 0x20);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    let sent = 0;
    socket.write(requestHead(port, 'POST', '/mcp', CHUNKED_MCP_POST));
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (sent < total && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(frame)) return void socket.once('drain', pump);
        }
        resolve();
      };
      socket.once('close', () => resolve());
      pump();
    });
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toMatch(/exceeds 1048576 bytes \(gateway\.max_body_bytes\)/);
    expect(text.toLowerCase()).toContain('connection: close');
    // The gateway stopped reading: what the client managed to send is what the kernel buffers held.
    expect(sent).toBeLessThan(total);
  });

  it('refuses a declared Content-Length over the limit before reading any of it', async () => {
    const gateway = await startGateway({ gateway: { max_body_bytes: 1 << 20 } });
    const port = portOf(gateway.url);
    const socket = await openSocket(port);
    const answer = answerOf(socket);
    socket.write(requestHead(port, 'POST', '/mcp', { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Content-Length': String(200 << 20) }));
    expect(await answer).toMatch(/^HTTP\/1\.1 413 [\s\S]*connection: close/i);
  });
});

describe('probe: request headers past the limits', () => {
  it('answers 431 to more than 100 header lines and to 16 KiB of headers', async () => {
    const port = portOf((await startGateway()).url);
    // rawRequest sends 4 lines of its own: Host, Content-Type, Accept, Connection.
    const lines = (n: number) => Object.fromEntries(Array.from({ length: n - 4 }, (_, i) => [`x-h${i}`, 'v']));
    expect((await rawRequest(port, 'GET', '/health', lines(100))).status).toBe(200);
    const tooMany = await rawRequest(port, 'GET', '/health', lines(101));
    expect(tooMany.status).toBe(431);
    expect(tooMany.headers.connection).toBe('close');
    await expect(rawRequest(port, 'GET', '/health', { 'x-big': 'a'.repeat(17 * 1024) }).then((a) => a.status)).resolves.toBe(431);
  });
});

describe('probe: session lock-out, one client opens every session', () => {
  it('lets a newcomer in: the oldest session that never sent a request gives way, its GET stream too', async () => {
    const gateway = await startGateway({ gateway: { max_connections: 10 } });
    const port = portOf(gateway.url);
    const hoarded: string[] = [];
    const streams = [];
    for (let i = 0; i < 10; i++) {
      hoarded.push(await openSession(port));
      streams.push(await openStream(port, hoarded[i]!));
    }
    expect(gateway.health().sessions).toBe(10);
    const newcomer = await openSession(port);
    expect((await rpc(port, newcomer, { jsonrpc: '2.0', id: 2, method: 'tools/list' })).json.result.tools.length).toBeGreaterThan(0);
    expect(gateway.health().sessions).toBe(10);
    expect((await rpc(port, hoarded[0]!, { jsonrpc: '2.0', id: 3, method: 'ping' })).status).toBe(404);
    await streams[0]!.closed;
    const metrics = (await rawRequest(port, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/^mcp_edge_sessions_evicted_total 1$/m);
  });

  it('refuses a newcomer, and counts it, only when every connection is busy with a session in use', async () => {
    const gateway = await startGateway({ gateway: { max_connections: 2 } });
    const port = portOf(gateway.url);
    const streams = [];
    for (let i = 0; i < 2; i++) {
      const session = await openSession(port);
      expect((await rpc(port, session, { jsonrpc: '2.0', id: 2, method: 'ping' })).status).toBe(200);
      streams.push(await openStream(port, session));
    }
    await expect(health(port)).rejects.toThrow(/socket hang up|ECONNRESET/);
    streams[0]!.close();
    await eventually(() => health(port).then((a) => (a.status === 200 ? true : undefined), () => undefined));
    expect((await rawRequest(port, 'GET', '/metrics')).text).toMatch(/^mcp_edge_connections_refused_total [1-9]\d*$/m);
    streams[1]!.close();
  });

  it('closes a session that sent no request after initialize once gateway.session_unused_seconds pass, and keeps one in use', async () => {
    const gateway = await startGateway({ gateway: { session_unused_seconds: 1 } });
    const port = portOf(gateway.url);
    const opened = Date.now();
    const unused = await openSession(port);
    const used = await openSession(port);
    expect((await rpc(port, used, { jsonrpc: '2.0', id: 2, method: 'tools/list' })).status).toBe(200);
    await eventually(() => (gateway.health().sessions === 1 ? true : undefined), 10_000, 'the unused session to close');
    expect(Date.now() - opened).toBeGreaterThanOrEqual(1000);
    expect((await rpc(port, unused, { jsonrpc: '2.0', id: 3, method: 'ping' })).status).toBe(404);
    expect((await rpc(port, used, { jsonrpc: '2.0', id: 3, method: 'ping' })).status).toBe(200);
  });
});
