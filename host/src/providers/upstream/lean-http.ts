// The gateway's own Streamable HTTP client transport for upstreams (the
// SDK's Client runs on top of it, as on the SDK's transport). The SDK's
// transport goes through fetch and web streams and parses every message with
// zod: about 1 ms of CPU per call, several times the rest of the gateway.
// Here one undici dispatcher per upstream keeps its connections alive, a JSON
// answer is read as one buffer and parsed once, an SSE answer goes through
// the incremental parser of sse.ts, and a message is checked by its shape only
// (the Client checks what it handles against its own schemas).
//
// What it keeps from the SDK's transport: the session id (taken from any
// response that carries one), the protocol-version header once negotiated, a
// 202 for notifications and responses, the session's GET stream opened after
// `notifications/initialized` (405: the server offers none), errors as
// StreamableHTTPError with the status (404 on a session id: the session
// expired; the provider reconnects, as with the SDK). Answer streams that
// end early are resumed by resume.ts. Redirects are not followed.
import { withTraceContext } from '../../telemetry/active-span.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport, FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, fetch as undiciFetch, type Dispatcher } from 'undici';
import { explainRequestFailure } from './fetch.js';
import { ListenStream } from './lean-listen.js';
import { leanRequest, type LeanBody, type LeanRequest, type LeanResponse } from './lean-request.js';
import { SocketPool } from './lean-socket.js';
import { InFlight } from './in-flight.js';
import { DirectCalls, type DirectRequestOptions, type DirectRequests } from './lean-call.js';
import { asMessages, headerOf, isEventStream } from './lean-wire.js';
import { requestsOf, ResumedCall, type ResumeOptions } from './resume.js';
import { StreamText, type SseEvent } from '../../protocol/sse.js';
import { MAX_MESSAGE_BYTES } from '../../protocol/message-size.js';

export interface LeanHttpOptions extends ResumeOptions {
  /** Headers of the upstream's config (a credential...), sent with every request. */
  headers: Readonly<Record<string, string>>;
  /** The dispatcher of the upstream's own TLS settings, asked anew per request (it changes on reload); else a keep-alive agent of this transport. */
  dispatcher?: () => Dispatcher;
}

/** Largest error body kept for the message, in bytes. */
const ERROR_BODY_BYTES = 2048;

export class LeanHttpTransport implements Transport, DirectRequests {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly origin: string;
  private readonly path: string;
  private readonly own: Pool | undefined;
  /** Requests under way, aborted when the transport closes. */
  private readonly inFlight = new InFlight();
  /** The POSTs' and DELETEs' own sockets, for a plain http: upstream without TLS settings (lean-socket.ts). */
  private readonly sockets: SocketPool | undefined;
  private readonly closing = new AbortController();
  private session: string | undefined;
  private protocol: string | undefined;
  /** The POST headers for the current session and protocol version, built when either changes. */
  private postHeaders: Record<string, string>;
  private listen: ListenStream | undefined;
  private closed = false;
  /** Requests sent by directRequest, answered here rather than by the Client (lean-call.ts). */
  private readonly direct = new DirectCalls();

  constructor(private readonly url: URL, private readonly options: LeanHttpOptions) {
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    this.own = options.dispatcher ? undefined : new Pool(this.origin, { keepAliveTimeout: 30_000 });
    this.sockets = url.protocol === 'http:' && !options.dispatcher ? new SocketPool(url) : undefined;
    this.postHeaders = this.buildHeaders();
  }

  get sessionId(): string | undefined {
    return this.session;
  }

  get protocolVersion(): string | undefined {
    return this.protocol;
  }

  setProtocolVersion(version: string): void {
    this.protocol = version;
    this.postHeaders = this.buildHeaders();
  }

  async start(): Promise<void> {
    // Nothing to open: every message is its own request on a pooled connection.
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closed = new Error('the upstream transport closed');
    this.closing.abort(closed);
    this.inFlight.abortAll(closed);
    this.listen?.stop();
    this.sockets?.destroy();
    this.direct.closeAll();
    // Said at once: the Client may connect a new transport as soon as it hears.
    this.onclose?.();
    await this.own?.destroy().catch(() => undefined);
  }

  async send(message: JSONRPCMessage | JSONRPCMessage[]): Promise<void> {
    try {
      await this.post(message);
    } catch (err) {
      const error = (err instanceof StreamableHTTPError ? err : explainRequestFailure(err)) as Error;
      this.onerror?.(error);
      throw error;
    }
  }

  /** A request answered to the caller, not to the Client: the hot path's tools/call (lean-call.ts). */
  directRequest(request: Omit<JSONRPCRequest, 'jsonrpc' | 'id'>, options: DirectRequestOptions): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the upstream transport closed'));
    return this.direct.request(request, options, (message) => this.send(message));
  }

  private dispatcher(): Dispatcher {
    return this.own ?? this.options.dispatcher!();
  }

  /** A POST or DELETE: on the pool's sockets when there is one, else on undici. */
  private request(request: LeanRequest): Promise<LeanResponse> {
    return this.sockets ? this.sockets.request(request, this.inFlight) : leanRequest(this.dispatcher(), request, this.inFlight);
  }

  /** Headers without content type or accept (GET, DELETE, resumes), for the current session. */
  private commonHeaders(): Record<string, string> {
    return {
      ...this.options.headers,
      ...(this.session ? { 'mcp-session-id': this.session } : {}),
      ...(this.protocol ? { 'mcp-protocol-version': this.protocol } : {}),
    };
  }

  private buildHeaders(): Record<string, string> {
    return { ...this.commonHeaders(), 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  }

  private noteSession(headers: IncomingHttpHeaders): void {
    const session = headerOf(headers, 'mcp-session-id');
    if (session && session !== this.session) {
      this.session = session;
      this.postHeaders = this.buildHeaders();
    }
  }

  private async post(message: JSONRPCMessage | JSONRPCMessage[]): Promise<void> {
    const body = JSON.stringify(message);
    if (this.closed) throw new Error('the upstream transport closed');
    const res = await this.request({ origin: this.origin, path: this.path, method: 'POST', headers: withTraceContext(this.postHeaders), body });
    this.noteSession(res.headers);
    if (res.status < 200 || res.status >= 300) {
      const text = await res.body.text(ERROR_BODY_BYTES).catch(() => '');
      throw new StreamableHTTPError(res.status, `Error POSTing to endpoint: ${text}`);
    }
    const requests = requestsOf(message);
    if (res.status === 202 || requests.size === 0) {
      res.body.dump();
      if (res.status === 202 && isInitialized(message)) this.openListenStream();
      return;
    }
    const contentType = headerOf(res.headers, 'content-type');
    if (isEventStream(contentType)) return this.readAnswerStream(res.body, body, requests);
    if (contentType?.split(';', 1)[0]?.trim().toLowerCase() !== 'application/json') {
      res.body.dump();
      throw new StreamableHTTPError(-1, `Unexpected content type: ${contentType}`);
    }
    this.deliver(await res.body.whole(MAX_MESSAGE_BYTES));
  }

  /** One JSON body: a message or a batch; responses are told to `call` (the answer stream's resumer). */
  private deliver(text: string, call?: ResumedCall): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      this.onerror?.(new Error(`upstream "${this.options.upstream}" answered with JSON it cannot parse: ${(err as Error).message}`));
      return;
    }
    const messages = asMessages(parsed);
    if (!messages) {
      this.onerror?.(new Error(`upstream "${this.options.upstream}" answered with something that is not a JSON-RPC message: ${text.slice(0, 200)}`));
      return;
    }
    for (const message of messages) {
      if (call && 'id' in message && message.id !== undefined && !('method' in message)) call.answer(message.id);
      if (!this.direct.settle(message)) this.onmessage?.(message);
    }
  }

  private deliverEvents(events: SseEvent[], call?: ResumedCall): void {
    for (const event of events) if (event.event === 'message') this.deliver(event.data, call);
  }

  /**
   * Reads an SSE answer as it comes; it is read to its end (so its connection
   * is reused), and resumed by resume.ts when it ends before every answer.
   */
  private readAnswerStream(body: LeanBody, sent: string, requests: Map<string | number, string>): void {
    const init: RequestInit = { method: 'POST', headers: this.postHeaders, body: sent, signal: this.closing.signal };
    const call = new ResumedCall(this.resumeFetch, this.url, init, requests, this.options, true);
    const text = new StreamText();
    let ended = false;
    const end = (how: string) => {
      if (ended) return;
      ended = true;
      if (!call.answered && !this.closed) void this.pump(call.resume(how), call);
    };
    body.read({
      data: (chunk) => this.deliverEvents(call.feed(text.next(chunk)), call),
      end: () => end('closed the stream'),
      error: (err) => end(`dropped the connection (${err.message})`),
    });
  }

  private async pump(batches: AsyncGenerator<SseEvent[]>, call: ResumedCall): Promise<void> {
    for await (const events of batches) this.deliverEvents(events, call);
  }

  /** The fetch for the rare requests resume.ts makes (GET with Last-Event-ID, notifications/cancelled). */
  private readonly resumeFetch: FetchLike = (url, init) =>
    undiciFetch(url, { ...(init as object), dispatcher: this.dispatcher() } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;

  private openListenStream(): void {
    if (this.closed || this.listen) return;
    this.listen = new ListenStream({
      dispatcher: () => this.dispatcher(),
      origin: this.origin,
      path: this.path,
      headers: () => ({ ...this.commonHeaders(), accept: 'text/event-stream' }),
      signal: this.closing.signal,
      onEvent: (event) => this.deliverEvents([event]),
      onError: (error) => this.onerror?.(error),
    });
    this.listen.open();
  }

  /** Ends the session on the upstream (DELETE); 405: the server does not let clients end sessions. */
  async terminateSession(): Promise<void> {
    if (!this.session) return;
    const res = await this.request({ origin: this.origin, path: this.path, method: 'DELETE', headers: this.commonHeaders() });
    res.body.dump();
    if (res.status >= 300 && res.status !== 405) throw new StreamableHTTPError(res.status, 'Failed to terminate session');
    this.session = undefined;
    this.postHeaders = this.buildHeaders();
  }
}

function isInitialized(message: JSONRPCMessage | JSONRPCMessage[]): boolean {
  return !Array.isArray(message) && 'method' in message && message.method === 'notifications/initialized' && !('id' in message);
}
