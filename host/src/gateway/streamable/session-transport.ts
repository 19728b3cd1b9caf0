// The server side of one MCP session over Streamable HTTP, written against
// node:http directly. The SDK's transport converts every request into a web
// Request and every answer into a web Response with a ReadableStream (through
// @hono/node-server); on a 2-core edge box that conversion cost more than the
// rest of the gateway's hot path. This transport keeps the SDK's Transport
// contract, so the SDK's Server runs on it unchanged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { Exchange, sseEvent } from './exchange.js';
import { isRequest, isResponse } from './messages.js';

export class HttpSessionTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  /** Open exchanges by the id of each request they wait to answer. */
  private readonly exchanges = new Map<RequestId, Exchange>();
  /** The GET stream for messages not related to a request, when the client opened one. */
  private standalone: ServerResponse | undefined;
  private readonly header: Record<string, string>;
  private closed = false;

  constructor(readonly sessionId: string) {
    this.header = { 'mcp-session-id': sessionId };
  }

  async start(): Promise<void> {}

  /** When the client last sent anything (ms since epoch). */
  lastSeen = Date.now();

  /** Whether the client has the GET stream open. */
  get hasStream(): boolean {
    return this.standalone !== undefined;
  }

  /** Idle: no GET stream and no POST waiting for answers. */
  get idle(): boolean {
    return this.standalone === undefined && this.exchanges.size === 0;
  }

  /** Hands a POST's (already validated) messages to the server and answers the POST. */
  receive(req: IncomingMessage, res: ServerResponse, messages: JSONRPCMessage[]): void {
    this.lastSeen = Date.now();
    const extra: MessageExtraInfo = { requestInfo: { headers: req.headers } };
    const ids = messages.filter(isRequest).map((m) => m.id);
    if (ids.length === 0) {
      res.writeHead(202, this.header).end();
    } else {
      const exchange = new Exchange(res, ids, this.header);
      for (const id of ids) this.exchanges.set(id, exchange);
    }
    for (const message of messages) this.onmessage?.(message, extra);
  }

  /** Opens the GET stream that carries server-initiated notifications and requests. */
  openStream(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', ...this.header });
    res.flushHeaders();
    this.standalone = res;
    this.lastSeen = Date.now();
    res.once('close', () => {
      if (this.standalone === res) this.standalone = undefined;
      this.lastSeen = Date.now();
    });
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) return;
    const id = isResponse(message) ? message.id : options?.relatedRequestId;
    if (id === undefined) {
      // Without a GET stream there is nowhere to send it: the spec lets the
      // server drop it (there is no event store to replay from).
      this.standalone?.write(sseEvent(message));
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
