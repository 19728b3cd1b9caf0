// The lean client's own HTTP/1.1 connections (lean-socket.ts, lean-h1.ts)
// against real servers on 127.0.0.1: node:http for the usual framings and
// keep-alive, and a raw TCP server for what node:http would not send (a 1xx
// before the answer, a body that runs to the close, a broken head).
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocketPool } from '../host/src/providers/upstream/lean-socket.js';
import { InFlight } from '../host/src/providers/upstream/in-flight.js';
import type { LeanRequest } from '../host/src/providers/upstream/lean-request.js';

let http: Server;
let httpUrl: URL;
const sockets = new Set<Socket>();
/** The raw server's answer to the next request, by test. */
let raw: (socket: Socket) => void = () => undefined;
/** The request heads the raw server read, one per connection. */
const rawHeads: string[] = [];
let tcp: TcpServer;
let tcpUrl: URL;

const post = (body: string, headers: Record<string, string> = {}): LeanRequest => ({ origin: '', path: '/mcp?x=1', method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    sockets.add(req.socket);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === 'chunked') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: one\n\n');
        setTimeout(() => res.end('data: two\n\n'), 5);
        return;
      }
      if (text === 'empty') return void res.writeHead(202).end();
      res.writeHead(200, { 'content-type': 'application/json', 'x-seen-path': req.url ?? '', 'x-seen-header': String(req.headers['x-test'] ?? '') });
      res.end(`echo:${text}`);
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  httpUrl = new URL(`http://127.0.0.1:${(http.address() as { port: number }).port}/mcp?x=1`);
  tcp = createTcpServer((socket) => socket.once('data', (d: Buffer) => (rawHeads.push(d.toString('latin1')), raw(socket))));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  tcpUrl = new URL(`http://127.0.0.1:${(tcp.address() as { port: number }).port}/mcp`);
});
afterAll(async () => {
  http.closeAllConnections();
  await new Promise((r) => http.close(r));
  await new Promise((r) => tcp.close(r));
});

describe('SocketPool', () => {
  it('sends the Host of the URL, or the one the config gives instead', async () => {
    raw = (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    rawHeads.length = 0;
    const pool = new SocketPool(tcpUrl);
    await pool.request(post('x'), new InFlight());
    await pool.request(post('x', { Host: 'virtual.example' }), new InFlight());
    expect(rawHeads[0]).toContain(`\r\nhost: ${tcpUrl.host}\r\n`);
    expect(rawHeads[1]!.match(/host:/gi)).toHaveLength(1);
    expect(rawHeads[1]).toContain('\r\nHost: virtual.example\r\n');
    pool.destroy();
  });

  it('sends path, headers and body, reads a Content-Length answer, and reuses the socket', async () => {
    const pool = new SocketPool(httpUrl);
    const inFlight = new InFlight();
    sockets.clear();
    for (let i = 0; i < 3; i++) {
      const res = await pool.request(post(`hi ${i}`, { 'x-test': 'yes' }), inFlight);
      expect(res.status).toBe(200);
      expect(res.headers['x-seen-path']).toBe('/mcp?x=1');
      expect(res.headers['x-seen-header']).toBe('yes');
      expect(await res.body.text()).toBe(`echo:hi ${i}`);
    }
    expect(sockets.size).toBe(1);
    expect(inFlight.size).toBe(0);
    pool.destroy();
  });

  it('reuses the head of one headers object with each body, and builds a new one for new headers', async () => {
    const pool = new SocketPool(httpUrl);
    const session = { 'content-type': 'application/json', 'x-test': 'first' };
    const send = async (headers: Record<string, string>, body: string) => {
      const res = await pool.request({ origin: '', path: '/mcp?x=1', method: 'POST', headers, body }, new InFlight());
      return [res.headers['x-seen-header'], await res.body.text()];
    };
    expect(await send(session, 'a')).toEqual(['first', 'echo:a']);
    expect(await send(session, 'a longer body ü')).toEqual(['first', 'echo:a longer body ü']);
    expect(await send({ ...session, 'x-test': 'second' }, 'b')).toEqual(['second', 'echo:b']);
    // A header refused once is refused again, not remembered as the last head.
    const bad = { 'x-test': 'line\r\nbreak' };
    await expect(pool.request({ origin: '', path: '/mcp', method: 'POST', headers: bad, body: '' }, new InFlight())).rejects.toThrow(/line break/);
    await expect(pool.request({ origin: '', path: '/mcp', method: 'POST', headers: bad, body: '' }, new InFlight())).rejects.toThrow(/line break/);
    expect(await send(session, 'c')).toEqual(['first', 'echo:c']);
    pool.destroy();
  });

  it('reads a chunked answer as it comes, and a 202 without a body', async () => {
    const pool = new SocketPool(httpUrl);
    const res = await pool.request(post('chunked'), new InFlight());
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(await res.body.text()).toBe('data: one\n\ndata: two\n\n');
    const empty = await pool.request(post('empty'), new InFlight());
    expect(empty.status).toBe(202);
    expect(await empty.body.text()).toBe('');
    pool.destroy();
  });

  it('skips a 1xx answer, and reads a body that ends with the connection', async () => {
    raw = (s) => s.end('HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"a":');
    const pool = new SocketPool(tcpUrl);
    const res = await pool.request(post('x'), new InFlight());
    expect(res.status).toBe(200);
    expect(await res.body.text()).toBe('{"a":');
    pool.destroy();
  });

  it('reads header names in any case and spacing, joins repeats, and keeps a header named like a prototype member', async () => {
    raw = (s) =>
      s.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Two: a\r\nx-two:  b \r\n Mcp-Session-Id :s1\r\n__proto__: p\r\nconstructor: c\r\nContent-Length: 2\r\n\r\n{}');
    const pool = new SocketPool(tcpUrl);
    const res = await pool.request(post('x'), new InFlight());
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-two']).toBe('a, b');
    expect(res.headers['mcp-session-id']).toBe('s1');
    expect(Object.getOwnPropertyDescriptor(res.headers, '__proto__')?.value).toBe('p');
    expect(res.headers['constructor' as 'x-two']).toBe('c');
    expect(await res.body.text()).toBe('{}');
    pool.destroy();
    // A header line without a name, or without a colon, is a malformed head (a new pool: the raw server closed the kept-alive socket).
    const strict = new SocketPool(tcpUrl);
    raw = (s) => s.end('HTTP/1.1 200 OK\r\n: nameless\r\n\r\n');
    await expect(strict.request(post('x'), new InFlight())).rejects.toMatchObject({ code: 'HPE_INVALID' });
    raw = (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nno colon here\r\n\r\n');
    await expect(strict.request(post('x'), new InFlight())).rejects.toMatchObject({ code: 'HPE_INVALID' });
    strict.destroy();
  });

  it('rejects with a socket error code when the server closes before answering, and on a malformed head or body', async () => {
    const pool = new SocketPool(tcpUrl);
    raw = (s) => s.destroy();
    await expect(pool.request(post('x'), new InFlight())).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    raw = (s) => s.end('NOT HTTP\r\n\r\n');
    await expect(pool.request(post('x'), new InFlight())).rejects.toMatchObject({ code: 'HPE_INVALID' });
    // A bad body after a good head: the head is answered, the body fails.
    raw = (s) => s.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n');
    const res = await pool.request(post('x'), new InFlight());
    await expect(res.body.text()).rejects.toMatchObject({ code: 'HPE_INVALID' });
    pool.destroy();
  });

  it('refuses a header value that would end the line, and a header name that is not a token', async () => {
    const pool = new SocketPool(httpUrl);
    await expect(pool.request(post('x', { 'mcp-session-id': 'a\r\nx-injected: 1' }), new InFlight())).rejects.toThrow(/line break/);
    await expect(pool.request(post('x', { 'x-a: 1\r\nx-b': '2' }), new InFlight())).rejects.toThrow(/not an HTTP token/);
    await expect(pool.request(post('x', { 'x test': '2' }), new InFlight())).rejects.toThrow(/not an HTTP token/);
    pool.destroy();
  });

  it('fails a request under way when it is aborted, and refuses requests once destroyed', async () => {
    raw = () => undefined; // never answers
    const pool = new SocketPool(tcpUrl);
    const inFlight = new InFlight();
    const pending = pool.request(post('x'), inFlight);
    await new Promise((r) => setTimeout(r, 50));
    expect(inFlight.size).toBe(1);
    inFlight.abortAll(new Error('closed by the test'));
    await expect(pending).rejects.toThrow('closed by the test');
    expect(inFlight.size).toBe(0);
    pool.destroy();
    await expect(pool.request(post('x'), inFlight)).rejects.toMatchObject({ code: 'UND_ERR_DESTROYED' });
  });

  it('does not reuse a socket idle past the server keep-alive timeout, less a margin', async () => {
    let count = 0;
    raw = (s) => {
      count += 1;
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=1\r\n\r\nok');
      s.once('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    };
    const pool = new SocketPool(tcpUrl);
    expect(await (await pool.request(post('x'), new InFlight())).body.text()).toBe('ok');
    // timeout=1 s less the 1 s margin: never reused, a second connection is opened.
    expect(await (await pool.request(post('x'), new InFlight())).body.text()).toBe('ok');
    expect(count).toBe(2);
    pool.destroy();
  });
});

describe('InFlight', () => {
  const request = () => {
    const aborted: Error[] = [];
    return { aborted, abort: (reason: Error) => void aborted.push(reason) };
  };

  it('holds requests until deleted, reuses freed slots, and ignores a stale delete', () => {
    const inFlight = new InFlight();
    const [a, b, c] = [request(), request(), request()];
    const slotA = inFlight.add(a);
    const slotB = inFlight.add(b);
    expect(inFlight.size).toBe(2);
    inFlight.delete(slotA, a);
    expect(inFlight.size).toBe(1);
    expect(inFlight.add(c)).toBe(slotA);
    inFlight.delete(slotA, a); // a's slot now holds c: nothing happens
    expect(inFlight.size).toBe(2);
    inFlight.abortAll(new Error('closing'));
    expect([a.aborted.length, b.aborted.length, c.aborted.length]).toEqual([0, 1, 1]);
    expect(inFlight.size).toBe(0);
    inFlight.delete(slotB, b); // a delete from inside an abort, after abortAll forgot it
    expect(inFlight.size).toBe(0);
  });
});
