// The gateway's TCP connections, held to gateway.max_connections without
// letting idle or slow ones lock everyone else out. Node's own maxConnections
// refuses the newcomer when the server is full; here a newcomer takes the
// place of the connection that is doing the least: one that has not sent a
// request yet (1,000 silent connections once held every slot for a minute),
// then one whose request body is still trickling in (slowloris), then one
// idle between keep-alive requests, oldest first. A connection busy with a
// request is taken only when it is disposable (the GET stream of an MCP
// session that never sent a request: a client holding streams open to fill
// the gateway); when all are busy otherwise, the newcomer is refused.
// One remote address may hold gateway.max_connections_per_address of them; a
// newcomer from an address at its cap takes the place of that address's own
// least busy connection, so a flood from one host churns among itself and
// leaves the other slots alone. Loopback is not counted: every local program,
// or a proxy on the same machine, shares it. The header and body time limits
// (Node's headersTimeout and requestTimeout, gateway.header_timeout_ms and
// body_timeout_ms) end slow connections even when nobody needs their place.
// Between keep-alive requests Node's socket timer ends a connection; here it
// first reads what arrived, so a stalled event loop does not reset a request.
// A connection whose client stops reading is ended once nothing it was sent
// has moved for STALLED_SEND_MS: Node keeps whatever the socket could not
// send, and twenty clients that asked for an 8 MiB answer each and never
// read it held 750 MB of the gateway's memory for good.
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpSettings } from '../config/resolve.js';
import { isLoopback } from './session-limits.js';

/** Most header lines one request may carry; more is answered 431. */
export const MAX_HEADER_LINES = 100;
/** Most bytes of one request's headers (Node answers 431 past it). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** How often Node checks the header and body time limits, in ms. */
export const TIMEOUT_CHECK_MS = 1000;
/** A connection with bytes waiting to be sent, none of which the client took for this long, is ended. */
export const STALLED_SEND_MS = 60_000;

/** The limits Node enforces itself, the same for the HTTP and the HTTPS server. */
export function httpServerOptions(http: Pick<HttpSettings, 'headerTimeoutMs' | 'bodyTimeoutMs'>): ServerOptions {
  return {
    headersTimeout: http.headerTimeoutMs,
    requestTimeout: http.bodyTimeoutMs,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    maxHeaderSize: MAX_HEADER_BYTES,
  };
}

/**
 * Bytes of `socket`'s output the kernel has taken. bytesWritten counts what
 * was handed to libuv, all of a large answer at once; libuv's queue of it
 * shrinks as the client reads (writeQueueSize, on the socket's handle: not a
 * documented member, and without it a slow reader counts as progress only
 * once a whole write has gone).
 */
function sentBytes(socket: Socket): number {
  const queued = (socket as unknown as { _handle?: { writeQueueSize?: unknown } })._handle?.writeQueueSize;
  return socket.bytesWritten - (typeof queued === 'number' ? queued : 0);
}

interface Tracked {
  /** The request it carries now, from its headers until its answer ends. */
  request?: IncomingMessage;
  /** Requests it has carried: 0 for a connection that has not sent one yet. */
  requests: number;
  /** The remote address it counts against; undefined for loopback. */
  address: string | undefined;
  /** While bytes wait to be sent: how many had been sent (sentBytes) when that was first seen, and when. */
  waiting?: { written: number; since: number };
}

export interface ConnectionCounts {
  open: number;
  /** Connections closed to make room for a newcomer. */
  evicted: number;
  /** Newcomers refused because every connection was busy. */
  refused: number;
  /** Connections ended because their client took none of what it was sent for STALLED_SEND_MS. */
  stalled: number;
}

export class ConnectionGuard {
  /** In the order they connected: the first evictable one is the oldest. */
  private readonly live = new Map<Socket, Tracked>();
  private readonly perAddress = new Map<string, number>();
  private evicted = 0;
  private refused = 0;
  private stalled = 0;
  /** Runs while there are connections: an idle gateway keeps no timer for it. */
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerAddress: number,
    /** Whether a request in progress may be cut off to make room (see above). */
    private readonly disposable: (req: IncomingMessage) => boolean = () => false,
    private readonly stalledSendMs = STALLED_SEND_MS,
  ) {}

  /** Stops the sweep for stalled sends (no connection is left, or the server is closing); the next connection starts it again. */
  close(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
  }

  /** Ends the connections whose waiting bytes did not move for stalledSendMs. */
  private endStalled(now: number): void {
    for (const [socket, tracked] of this.live) {
      if (socket.writableLength === 0) {
        delete tracked.waiting;
        continue;
      }
      const written = sentBytes(socket);
      if (tracked.waiting === undefined || tracked.waiting.written !== written) {
        tracked.waiting = { written, since: now };
        continue;
      }
      if (now - tracked.waiting.since < this.stalledSendMs) continue;
      this.stalled++;
      this.forget(socket);
      socket.destroy();
    }
  }

  /**
   * A new connection (the server's 'connection' event): admitted, after making
   * room when its address or the gateway is full. `remoteAddress` is the
   * socket's own unless given.
   */
  admit(socket: Socket, remoteAddress = socket.remoteAddress): void {
    const address = remoteAddress === undefined || isLoopback(remoteAddress) ? undefined : remoteAddress.replace(/^::ffff:/, '');
    const addressFull = address !== undefined && (this.perAddress.get(address) ?? 0) >= this.maxPerAddress;
    if ((addressFull && !this.evictOne(address)) || (this.live.size >= this.maxConnections && !this.evictOne())) {
      this.refused++;
      socket.destroy();
      return;
    }
    this.live.set(socket, { requests: 0, address });
    if (this.sweep === undefined) {
      // A look every tenth of the limit: a stalled connection ends between 1 and 1.1 times it.
      this.sweep = setInterval(() => this.endStalled(Date.now()), Math.max(10, this.stalledSendMs / 10));
      this.sweep.unref();
    }
    if (address !== undefined) this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => this.forget(socket));
  }

  private forget(socket: Socket): void {
    const tracked = this.live.get(socket);
    if (!tracked) return;
    this.live.delete(socket);
    if (this.live.size === 0) this.close();
    const address = tracked.address;
    if (address === undefined) return;
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }

  /** A request arrived on its connection (the server's 'request' event); the connection is busy until the answer ends. */
  busy(req: IncomingMessage, res: ServerResponse): void {
    const tracked = this.live.get(req.socket);
    if (!tracked) return;
    tracked.request = req;
    tracked.requests++;
    res.once('close', () => {
      if (tracked.request === req) delete tracked.request;
    });
  }

  /**
   * A connection's keep-alive time ran out between requests (the server's
   * 'timeout' event; listening to it replaces Node's own destroy). Node runs
   * its timers before it reads its sockets: after a stall of the event loop
   * longer than the keep-alive margin (a few seconds, 50 mesh nodes in one
   * process do it), a request sent in time is still unread, and a close then
   * is a reset (the client's POST fails with ECONNRESET and must not be
   * retried blindly). So the close waits for the loop's reads (setImmediate
   * runs after them) and happens only when no request arrived meanwhile.
   */
  keepAliveEnded(socket: Socket): void {
    const served = this.live.get(socket)?.requests;
    setImmediate(() => {
      const tracked = this.live.get(socket);
      if (tracked && tracked.requests !== served) return; // a request came in time: Node times the connection again after its answer
      socket.destroy();
    });
  }

  counts(): ConnectionCounts {
    return { open: this.live.size, evicted: this.evicted, refused: this.refused, stalled: this.stalled };
  }

  /** Closes the connection doing the least (of `address` when given); false when every one is busy with a request. */
  private evictOne(address?: string): boolean {
    const victim =
      this.oldest(address, (t) => t.requests === 0) ?? // never sent a request (or is still sending its headers)
      this.oldest(address, (t) => t.request?.complete === false) ?? // its request body is still arriving
      this.oldest(address, (t) => t.request === undefined) ?? // idle between keep-alive requests
      this.oldest(address, (t) => t.request !== undefined && this.disposable(t.request));
    if (!victim) return false;
    this.evicted++;
    this.forget(victim);
    victim.destroy();
    return true;
  }

  private oldest(address: string | undefined, matches: (t: Tracked) => boolean): Socket | undefined {
    for (const [socket, tracked] of this.live) if ((address === undefined || tracked.address === address) && matches(tracked)) return socket;
    return undefined;
  }
}
