// The connection guard's cap per remote address (gateway/connections.ts),
// with real sockets. A loopback test cannot connect from two hosts, so each
// client names the address it stands for in its first line, and a plain net
// server hands that to the guard as the kernel would hand it the real one.
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionGuard } from '../host/src/gateway/connections.js';
import { closedByPeer } from './helpers/raw-http.js';

let guard: ConnectionGuard;
let server: Server;
let port: number;
const clients: Socket[] = [];

beforeAll(async () => {
  guard = new ConnectionGuard(10, 3);
  server = createServer((socket) => {
    socket.once('data', (line: Buffer) => guard.admit(socket, line.toString().trim() || socket.remoteAddress));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await new Promise((r) => server.close(r));
});

/** Connects "from" `address`; resolves once the guard has seen the connection. */
async function from(address: string | undefined): Promise<Socket> {
  const before = guard.counts();
  const socket = await new Promise<Socket>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', () => undefined);
  });
  socket.write(`${address ?? ''}\n`);
  clients.push(socket);
  // Wait for the guard's decision (admitted, or something evicted or refused).
  for (let i = 0; i < 200; i++) {
    const now = guard.counts();
    if (now.open + now.evicted + now.refused > before.open + before.evicted + before.refused) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  return socket;
}

describe('connections per remote address', () => {
  it('lets one address hold max_connections_per_address; its newcomers replace its own oldest idle ones, not others', async () => {
    const flood = [];
    for (let i = 0; i < 6; i++) flood.push(await from('192.0.2.7'));
    const other = [];
    for (let i = 0; i < 3; i++) other.push(await from('198.51.100.1'));
    // The flood's first three made room for its last three; the other address kept all of its own.
    await Promise.all(flood.slice(0, 3).map(closedByPeer));
    expect(guard.counts()).toEqual({ open: 6, evicted: 3, refused: 0, stalled: 0 });
    expect([...flood.slice(3), ...other].some((s) => s.destroyed)).toBe(false);
  });

  it('does not count loopback: local connections fill up to max_connections', async () => {
    for (let i = 0; i < 4; i++) await from(undefined);
    expect(guard.counts()).toEqual({ open: 10, evicted: 3, refused: 0, stalled: 0 });
  });
});

describe('a client that stops reading', () => {
  it('has its connection ended once nothing it was sent moves for the limit; one that reads slowly keeps it (regression: the answers stayed in memory for good)', async () => {
    // The kernel takes a loopback socket's output in steps of about a megabyte and a half as the
    // reader drains it: a reader of 2.6 MB/s shows progress about twice a second, well within this limit.
    const stalledGuard = new ConnectionGuard(10, 10, () => false, 4_000);
    const answer = 'x'.repeat(32 * 1024 * 1024);
    const http = createHttpServer((_req, res) => res.end(answer));
    http.on('connection', (socket: Socket) => stalledGuard.admit(socket));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const httpPort = (http.address() as AddressInfo).port;
    const ask = async () => {
      const socket = await new Promise<Socket>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: httpPort }, () => resolve(s));
        s.on('error', () => undefined);
      });
      socket.write(`GET / HTTP/1.1\r\nhost: 127.0.0.1:${httpPort}\r\n\r\n`);
      return socket;
    };
    try {
      const idle = await ask();
      idle.pause(); // never reads
      clients.push(idle);
      const slow = await ask();
      slow.pause();
      // Takes 128 KiB every 50 ms: slow (the answer takes it 13 s), but it moves.
      const reader = setInterval(() => slow.read(131_072), 50);
      try {
        // The gateway's side ends it (a paused client may not see that until it reads).
        await until(() => stalledGuard.counts().stalled === 1, 10_000, 'the idle reader ended');
        expect(stalledGuard.counts().open).toBe(1);
        await new Promise((r) => setTimeout(r, 3_000));
        expect(slow.destroyed).toBe(false);
        expect(stalledGuard.counts().stalled).toBe(1);
      } finally {
        clearInterval(reader);
        slow.destroy();
      }
    } finally {
      stalledGuard.close();
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    }
  });
});

/** Polls `done` until it holds, or throws after `ms`. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
