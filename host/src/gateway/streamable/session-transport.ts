// The server side of one MCP session over Streamable HTTP, written against
// node:http directly. The SDK's transport converts every request into a web
// Request and every answer into a web Response with a ReadableStream (through
// @hono/node-server); on a 2-core edge box that conversion cost more than the
// rest of the gateway's hot path. This transport keeps the SDK's Transport
// contract, so the SDK's Server runs on it unchanged.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { SessionEventStore, type EventStoreLimits, type SseStream } from './event-store.js';
import { Exchange, SSE_HEADERS } from './exchange.js';
import { isInitialize, isPlainRequest, isRequest, isResponse } from './messages.js';
import { withoutCredentials } from '../../security/challenge.js';
import { HttpRefusal } from '../../protocol/http-refusal.js';
import { INVALID_REQUEST } from '../../protocol/jsonrpc.js';

export interface SessionStreamOptions {
  /** Bounds of the session's event store. */
  limits: EventStoreLimits;
  /** gateway.stream_after_ms: see exchange.ts. */
  streamAfterMs: number;
}

/** The first protocol version whose clients take priming events (empty data). */
const PRIMING_SINCE = '2025-11-25';
/** The version a request without MCP-Protocol-Version speaks, per the spec. */
const ASSUMED_VERSION = '2025-03-26';

/** The protocol version of a POST: its header, else what its initialize asks for, else the spec's assumption. */
function protocolVersionOf(req: IncomingMessage, messages: JSONRPCMessage[]): string {
  const header = req.headers['mcp-protocol-version'];
  if (typeof header === 'string') return header;
  const init = messages.find(isInitialize) as { params?: { protocolVersion?: unknown } } | undefined;
  const asked = init?.params?.protocolVersion;
  return typeof asked === 'string' ? asked : ASSUMED_VERSION;
}

/**
 * What the handlers of a POST's messages see of its HTTP request: the headers
 * without the client's credentials (nothing behind the transport, providers,
 * plugins or upstreams, ever sees them), copied once, when first read (few
 * handlers read them). A class, not an object literal with a getter: the
 * literal built an accessor and a closure per POST.
 */
class RequestInfo {
  // ES private fields: a handler that serializes or walks the object finds only `headers`, as on the literal.
  readonly #req: IncomingMessage;
  #copied: IncomingHttpHeaders | undefined;
  constructor(req: IncomingMessage) {
    this.#req = req;
  }
  get headers(): IncomingHttpHeaders {
    return (this.#copied ??= withoutCredentials(this.#req.headers));
  }
  toJSON(): { headers: IncomingHttpHeaders } {
    return { headers: this.headers };
  }
}

export class HttpSessionTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** Takes a request of the plain kind past the SDK's classification (dispatchRequestsDirectly); absent, onmessage does. */
  onPlainRequest?: (message: JSONRPCMessage, extra: MessageExtraInfo) => void;

  /** Open exchanges by the id of each request they wait to answer. */
  private readonly exchanges = new Map<RequestId, Exchange>();
  /** The events of this session's streams, for clients that resume one. */
  readonly store: SessionEventStore;
  /** The GET stream for messages not related to a request, once the client opened one. */
  private standalone: SseStream | undefined;
  private readonly header: Record<string, string>;
  private closed = false;

  constructor(
    readonly sessionId: string,
    private readonly options: SessionStreamOptions,
  ) {
    this.header = { 'mcp-session-id': sessionId };
    this.store = new SessionEventStore(options.limits);
  }

  async start(): Promise<void> {}

  /** When the client last sent anything (ms since epoch). */
  lastSeen = Date.now();

  /** Whether a connection carries the GET stream now. */
  get hasStream(): boolean {
    return this.standalone?.attached ?? false;
  }

  /** Idle: no GET stream and no POST waiting for answers. */
  get idle(): boolean {
    return !this.hasStream && this.exchanges.size === 0;
  }

  /**
   * Hands a POST's (already validated) messages to the server and answers the
   * POST. Throws an HttpRefusal, before anything runs, when a request reuses
   * an id: twice in one POST, or one whose request is still in flight in this
   * session (the spec forbids both). Each answer finds its POST by its id, so
   * the reused id's first POST would otherwise never be answered (its answer
   * went to the second), and a batch would lose one of its answers. An id
   * whose request was answered may come again: the session remembers only
   * the ids in flight.
   */
  receive(req: IncomingMessage, res: ServerResponse, messages: JSONRPCMessage[]): void {
    const ids: RequestId[] = [];
    for (const message of messages) if (isRequest(message)) ids.push(message.id);
    this.checkIds(ids);
    this.lastSeen = Date.now();
    const extra: MessageExtraInfo = { requestInfo: new RequestInfo(req) };
    if (ids.length === 0) {
      res.writeHead(202, this.header).end();
    } else {
      const exchange = new Exchange(res, ids, {
        sessionHeader: this.header,
        store: this.store,
        prime: protocolVersionOf(req, messages) >= PRIMING_SINCE,
        streamAfterMs: this.options.streamAfterMs,
      });
      for (const id of ids) this.exchanges.set(id, exchange);
    }
    for (const message of messages) {
      if (this.onPlainRequest && isPlainRequest(message)) this.onPlainRequest(message, extra);
      else this.onmessage?.(message, extra);
    }
  }

  private checkIds(ids: RequestId[]): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (this.exchanges.has(id)) {
        throw new HttpRefusal(400, INVALID_REQUEST, `Invalid Request: request id ${JSON.stringify(id)} is still in flight in this session; give each request an id of its own.`);
      }
      if (ids.indexOf(id, i + 1) >= 0) {
        throw new HttpRefusal(400, INVALID_REQUEST, `Invalid Request: the batch carries request id ${JSON.stringify(id)} more than once; give each request an id of its own.`);
      }
    }
  }

  /** Opens (or reopens) the GET stream that carries server-initiated notifications and requests. */
  openStream(res: ServerResponse): void {
    this.standalone ??= this.store.open();
    this.carry(this.standalone, res, []);
  }

  /** Resumes the stream `lastEventId` belongs to: the events after it, then the rest as it comes. Throws an HttpRefusal when it cannot. */
  resume(res: ServerResponse, lastEventId: string): void {
    const { stream, frames } = this.store.replay(lastEventId);
    this.carry(stream, res, frames);
  }

  /** Ends the connection that carries the GET stream, keeping the stream: the client may resume it (its credential expired). */
  dropStream(): void {
    this.standalone?.detach();
  }

  private carry(stream: SseStream, res: ServerResponse, frames: string[]): void {
    res.writeHead(200, { ...SSE_HEADERS, ...this.header });
    res.flushHeaders();
    for (const frame of frames) res.write(frame);
    this.lastSeen = Date.now();
    if (stream.ended) {
      res.end();
      return;
    }
    stream.attach(res);
    res.once('close', () => {
      this.lastSeen = Date.now();
    });
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) return;
    const id = isResponse(message) ? message.id : options?.relatedRequestId;
    if (id === undefined) {
      // Kept for a resume once the client has opened the GET stream; before
      // that there is nowhere to send it, and the spec lets the server drop it.
      this.standalone?.send(message);
      return;
    }
    const exchange = this.exchanges.get(id);
    // A message about a request already answered (a late progress) has no stream left.
    if (!exchange) return;
    if (!exchange.deliver(message)) return;
    for (const done of exchange.requestIds) this.exchanges.delete(done);
    // Idle time counts from the last answer, not from the request.
    this.lastSeen = Date.now();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const exchange of new Set(this.exchanges.values())) exchange.abort();
    this.exchanges.clear();
    this.standalone?.end();
    this.standalone = undefined;
    this.onclose?.();
  }
}

type RequestSink = (request: JSONRPCMessage, extra: MessageExtraInfo) => void;

/**
 * Hands the plain requests of `transport` (already checked by messages.ts)
 * straight to the request handling of the SDK's Protocol under `server`. The
 * Protocol's own onmessage classifies every message with three zod parses
 * before it gets there (a response? an error? a request?); a plain request is
 * known to be a request, and the parses are a few percent of a tools/call's
 * CPU. `_onrequest` is the SDK's internal entry for a request: when an SDK
 * version lacks it, nothing changes and onmessage classifies as before
 * (test/call-checks.test.ts checks it is there).
 */
export function dispatchRequestsDirectly(server: object, transport: HttpSessionTransport): boolean {
  const onrequest = (server as { _onrequest?: unknown })._onrequest;
  if (typeof onrequest !== 'function') return false;
  transport.onPlainRequest = (onrequest as RequestSink).bind(server);
  return true;
}
