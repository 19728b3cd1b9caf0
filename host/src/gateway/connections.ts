// The gateway's TCP connections, held to gateway.max_connections without
// letting idle or slow ones lock everyone else out. Node's own maxConnections
// refuses the newcomer when the server is full; here a newcomer takes the
// place of the connection that is doing the least: one that has not sent a
// request yet (1,000 silent connections once held every slot for a minute),
// then one whose request body is still trickling in (slowloris), then one
// idle between keep-alive requests, oldest first. A connection busy with a
// request is taken only when it is disposable (the GET stream of an MCP
// session that never sent a request: a client holding streams open to fill
// the gateway); when all are busy otherwise, the newcomer is refused. The header and body time limits
// (Node's headersTimeout and requestTimeout, gateway.header_timeout_ms and
// body_timeout_ms) end slow connections even when nobody needs their place.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Most header lines one request may carry; more is answered 431. */
export const MAX_HEADER_LINES = 100;
/** Most bytes of one request's headers (Node answers 431 past it). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** How often Node checks the header and body time limits, in ms. */
export const TIMEOUT_CHECK_MS = 1000;

interface Tracked {
  /** The request it carries now, from its headers until its answer ends. */
  request?: IncomingMessage;
  /** Requests it has carried: 0 for a connection that has not sent one yet. */
  requests: number;
}

export interface ConnectionCounts {
  open: number;
  /** Connections closed to make room for a newcomer. */
  evicted: number;
  /** Newcomers refused because every connection was busy. */
  refused: number;
}

export class ConnectionGuard {
  /** In the order they connected: the first evictable one is the oldest. */
  private readonly live = new Map<Socket, Tracked>();
  private evicted = 0;
  private refused = 0;

  constructor(
    private readonly maxConnections: number,
    /** Whether a request in progress may be cut off to make room (see above). */
    private readonly disposable: (req: IncomingMessage) => boolean = () => false,
  ) {}

  /** A new connection (the server's 'connection' event): admitted, after making room when the gateway is full. */
  admit(socket: Socket): void {
    if (this.live.size >= this.maxConnections && !this.evictOne()) {
      this.refused++;
      socket.destroy();
      return;
    }
    this.live.set(socket, { requests: 0 });
    socket.once('close', () => this.live.delete(socket));
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

  counts(): ConnectionCounts {
    return { open: this.live.size, evicted: this.evicted, refused: this.refused };
  }

  /** Closes the connection doing the least; false when every one is busy with a request. */
  private evictOne(): boolean {
    const victim =
      this.oldest((t) => t.requests === 0) ?? // never sent a request (or is still sending its headers)
      this.oldest((t) => t.request?.complete === false) ?? // its request body is still arriving
      this.oldest((t) => t.request === undefined) ?? // idle between keep-alive requests
      this.oldest((t) => t.request !== undefined && this.disposable(t.request));
    if (!victim) return false;
    this.evicted++;
    this.live.delete(victim);
    victim.destroy();
    return true;
  }

  private oldest(matches: (t: Tracked) => boolean): Socket | undefined {
    for (const [socket, tracked] of this.live) if (matches(tracked)) return socket;
    return undefined;
  }
}
