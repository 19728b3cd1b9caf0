// A keep-alive connection whose next request arrives while the gateway's
// event loop is stalled (bench/mesh with 50 gateways in one process died of
// it: "fetch failed", read ECONNRESET). Node checks a socket's keep-alive
// timer before it reads the socket, so after a stall longer than the
// keep-alive margin it closed a connection with a request waiting unread,
// and the kernel answered the client with a reset. Real sockets on
// 127.0.0.1; the stall is Atomics.wait on this process's own event loop,
// which runs the gateway.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startGateway } from './helpers/gateway.js';
import { closedByPeer, openSocket, requestHead } from './helpers/raw-http.js';

/** Node holds a keep-alive socket this long past the advertised timeout (http.Server's keepAliveTimeoutBuffer). */
const NODE_KEEP_ALIVE_BUFFER_MS = 1000;

/** Everything `socket` receives, as it arrives, and the error that ended it (ECONNRESET for a reset). */
function received(socket: Socket): { text: () => string; error: () => string | undefined } {
  let text = '';
  let error: string | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  return { text: () => text, error: () => error };
}

/** Waits until `check` holds, polling every 10 ms, `ms` at most. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Blocks this process's event loop (the gateway's too) for `ms`, without spinning a core. */
function stallEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ms));
}

/** The status lines in what a connection received (a body without a line end runs into the next answer). */
const answers = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];

describe('keep-alive connections across a stalled event loop', () => {
  it('answers a request sent within the advertised keep-alive, and still closes the connection that stayed idle', async () => {
    const gateway = await startGateway();
    const port = Number(new URL(gateway.url).port);
    const [waiting, idle] = [await openSocket(port), await openSocket(port)];
    const [fromWaiting, fromIdle] = [received(waiting), received(idle)];
    waiting.write(requestHead(port, 'GET', '/health'));
    idle.write(requestHead(port, 'GET', '/health'));
    await until(() => answers(fromWaiting.text()).length === 1 && answers(fromIdle.text()).length === 1, 5000, 'the first answers');
    const answeredAt = Date.now();
    const advertisedMs = Number(/keep-alive: timeout=(\d+)/i.exec(fromWaiting.text())?.[1]) * 1000;
    expect(advertisedMs).toBeGreaterThan(1000);

    // The second request goes out halfway through the advertised time, and the loop stalls before it reads it, until past
    // the server's own deadline for both sockets. Both in one callback after the timers (as most work runs: socket
    // reads, immediates), so that the loop's next steps are its timers, then its reads: a client elsewhere whose
    // request arrives during the stall.
    await new Promise((r) => setTimeout(r, advertisedMs / 2));
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        waiting.write(requestHead(port, 'GET', '/health'));
        stallEventLoop(answeredAt + advertisedMs + NODE_KEEP_ALIVE_BUFFER_MS + 500 - Date.now());
        resolve();
      }),
    );

    await until(() => answers(fromWaiting.text()).length === 2 || waiting.destroyed, 5000, 'the second answer or a close');
    expect({ answers: answers(fromWaiting.text()), error: fromWaiting.error() }).toEqual({ answers: ['HTTP/1.1 200', 'HTTP/1.1 200'], error: undefined });
    expect(waiting.destroyed).toBe(false);
    // The connection that sent nothing more is closed as before: the fix looks at what arrived, it keeps nothing idle.
    await closedByPeer(idle);
    expect(answers(fromIdle.text())).toEqual(['HTTP/1.1 200']);
    waiting.destroy();
  });
});
