// Keep-alive TCP connections to one plain http: upstream, for the lean
// client's POSTs and DELETEs (lean-http.ts). Profiling the gateway under load
// put undici's HTTP/1 client (its request objects, handler wrappers, timers
// and wasm parser) at about a tenth of the gateway's CPU per call; a request
// here is one string written to an idle socket, and its answer is read by the
// small HTTP/1.1 response reader of lean-h1.ts. Upstreams with TLS (https:, or
// their own tls_ca / tls_cert) and the session's long-lived GET stream go
// through undici as before.
//
// No pipelining: a socket carries one request at a time; a new socket is
// opened when none is idle. A socket idle longer than the server's
// `Keep-Alive: timeout` (less a margin), or 4 s when it gave none, is closed
// rather than reused, so a request is not written to a socket the server is
// closing.
import { connect, type Socket } from 'node:net';
import { LeanBody, type LeanRequest, type LeanResponse } from './lean-request.js';
import { ResponseReader, type ResponseHead } from './lean-h1.js';
import type { Abortable, InFlight } from './in-flight.js';
import { headerProblem } from '../../protocol/http-header.js';

/** How long an idle socket is kept when the server says nothing, in ms (undici's default). */
const DEFAULT_IDLE_MS = 4_000;
/** Taken off the server's keep-alive timeout: the request must reach it before it closes. */
const IDLE_MARGIN_MS = 1_000;
/** A connection not established by then fails (undici's connect timeout). */
const CONNECT_TIMEOUT_MS = 10_000;

/** The request line and header lines of `request` (checked), without content-length. */
function headOf(request: LeanRequest, host: string): string {
  let head = `${request.method} ${request.path} HTTP/1.1\r\n`;
  let hostGiven = false;
  for (const name in request.headers) {
    const value = request.headers[name]!;
    const problem = headerProblem(name, value);
    if (problem) throw new TypeError(`${problem}: refused`);
    // A Host of the upstream's config (virtual hosting) is sent instead of the URL's, as undici does.
    if (name.length === 4 && name.toLowerCase() === 'host') hostGiven = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hostGiven) head += `host: ${host}\r\n`;
  return head;
}

/**
 * Writes requests as one string each (head and body: one write, one segment
 * for small calls). A session's POSTs carry the same headers object
 * (lean-http.ts builds it when the session or protocol version changes), so
 * the checked head is kept for the last one seen and reused while it stays.
 */
class Serializer {
  private last: { headers: LeanRequest['headers']; method: string; path: string; head: string } | undefined;

  constructor(private readonly host: string) {}

  text(request: LeanRequest): string {
    const last = this.last;
    let head: string;
    if (last && last.headers === request.headers && last.method === request.method && last.path === request.path) head = last.head;
    else {
      head = headOf(request, this.host);
      this.last = { headers: request.headers, method: request.method, path: request.path, head };
    }
    const body = request.body ?? '';
    if (body !== '' || request.method === 'POST') head += `content-length: ${Buffer.byteLength(body)}\r\n`;
    return `${head}\r\n${body}`;
  }
}

/** A socket error as undici and fetch report it: with a code, which explainRequestFailure reads. */
function socketError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** One request on one socket: its promise until the head comes, then its body. */
class Exchange implements Abortable {
  body: LeanBody | undefined;
  /** Its place in `inFlight`. */
  slot = -1;
  constructor(
    private readonly connection: Connection,
    readonly resolve: (response: LeanResponse) => void,
    readonly reject: (error: Error) => void,
    readonly inFlight: InFlight,
  ) {}

  abort(reason: Error): void {
    this.connection.fail(reason);
  }
}

class Connection {
  private readonly reader: ResponseReader;
  private exchange: Exchange | undefined;
  idleSince = 0;
  idleLimitMs = DEFAULT_IDLE_MS;
  private dead = false;

  constructor(
    private readonly socket: Socket,
    private readonly pool: SocketPool,
  ) {
    this.reader = new ResponseReader({
      head: (head) => this.onHead(head),
      data: (chunk) => this.exchange?.body?.push(chunk),
      end: (reusable) => this.onEnd(reusable),
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onClosed());
    socket.on('close', () => this.onClosed());
    socket.on('error', (err) => this.fail(err));
  }

  get busy(): boolean {
    return this.exchange !== undefined;
  }

  send(text: string, exchange: Exchange): void {
    this.exchange = exchange;
    exchange.slot = exchange.inFlight.add(exchange);
    this.reader.expect();
    this.socket.ref();
    this.socket.write(text);
  }

  private onData(chunk: Buffer): void {
    if (!this.exchange) return this.fail(socketError('the upstream sent bytes no request asked for', 'UND_ERR_SOCKET'));
    try {
      this.reader.push(chunk);
    } catch (err) {
      this.fail(socketError(`the upstream's answer is not valid HTTP/1.1: ${(err as Error).message}`, 'HPE_INVALID'));
    }
  }

  private onHead(head: ResponseHead): void {
    const exchange = this.exchange!;
    exchange.body = new LeanBody((error) => this.fail(error));
    if (head.keepAliveMs !== undefined) this.idleLimitMs = Math.max(0, head.keepAliveMs - IDLE_MARGIN_MS);
    exchange.resolve({ status: head.status, headers: head.headers, body: exchange.body });
  }

  private onEnd(reusable: boolean): void {
    const exchange = this.exchange!;
    this.exchange = undefined;
    exchange.inFlight.delete(exchange.slot, exchange);
    exchange.body!.end();
    if (reusable && !this.dead) this.pool.release(this);
    else this.destroy();
  }

  private onClosed(): void {
    // A body that runs until the connection closes ends here (onEnd lets the socket go).
    if (this.exchange && this.reader.closeEnds()) return;
    this.fail(socketError('the upstream closed the connection before the answer ended', 'UND_ERR_SOCKET'));
  }

  /** The socket is gone or must go: the exchange on it (if any) fails. */
  fail(error: Error): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.destroy();
    if (!exchange) return;
    exchange.inFlight.delete(exchange.slot, exchange);
    if (exchange.body) exchange.body.fail(error);
    else exchange.reject(error);
  }

  /** Idle: an open keep-alive socket does not keep the process alive. */
  sleep(): void {
    this.socket.unref();
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    this.pool.forget(this);
  }
}

/** The sockets to one upstream (host and port of an http: URL). */
export class SocketPool {
  /** Idle connections, the most recently used last. */
  private idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly host: string;
  private readonly port: number;
  private readonly serializer: Serializer;
  private closed = false;

  constructor(url: URL) {
    if (url.protocol !== 'http:') throw new TypeError(`SocketPool takes http: URLs, not ${url.protocol}`);
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = Number(url.port || 80);
    this.serializer = new Serializer(url.host);
  }

  /** Sends `request`; resolves with the status and headers (the body follows), rejects when no answer came. */
  request(request: LeanRequest, inFlight: InFlight): Promise<LeanResponse> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(socketError('the upstream connection pool is closed', 'UND_ERR_DESTROYED'));
      const text = this.serializer.text(request);
      const connection = this.take() ?? this.open();
      connection.send(text, new Exchange(connection, resolve, reject, inFlight));
    });
  }

  /** An idle connection the server has not closed yet, most recent first; older ones are let go. */
  private take(): Connection | undefined {
    const now = Date.now();
    for (let connection = this.idle.pop(); connection; connection = this.idle.pop()) {
      if (now - connection.idleSince < connection.idleLimitMs) return connection;
      connection.destroy();
    }
    return undefined;
  }

  private open(): Connection {
    const socket = connect({ host: this.host, port: this.port, noDelay: true, keepAlive: true });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(socketError(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`, 'UND_ERR_CONNECT_TIMEOUT')));
    socket.once('connect', () => socket.setTimeout(0));
    const connection = new Connection(socket, this);
    this.all.add(connection);
    return connection;
  }

  /** @internal a connection whose answer ended and that may carry the next request */
  release(connection: Connection): void {
    if (this.closed) return connection.destroy();
    connection.idleSince = Date.now();
    connection.sleep();
    this.idle.push(connection);
  }

  /** @internal a connection that closed */
  forget(connection: Connection): void {
    this.all.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
  }

  /** Closes every connection; requests on them fail. */
  destroy(): void {
    this.closed = true;
    for (const connection of [...this.all]) connection.fail(socketError('the upstream connection pool closed', 'UND_ERR_DESTROYED'));
    this.idle = [];
  }
}
