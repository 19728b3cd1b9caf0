// The connection guard's cap per remote address (gateway/connections.ts),
// with real sockets. A loopback test cannot connect from two hosts, so each
// client names the address it stands for in its first line, and a plain net
// server hands that to the guard as the kernel would hand it the real one.
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
    expect(guard.counts()).toEqual({ open: 6, evicted: 3, refused: 0 });
    expect([...flood.slice(3), ...other].some((s) => s.destroyed)).toBe(false);
  });

  it('does not count loopback: local connections fill up to max_connections', async () => {
    for (let i = 0; i < 4; i++) await from(undefined);
    expect(guard.counts()).toEqual({ open: 10, evicted: 3, refused: 0 });
  });
});
