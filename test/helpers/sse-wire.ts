// A raw Streamable HTTP client on node:http for the wire tests: POSTs and
// GETs whose SSE answers are read event by event as they arrive, and whose
// connection a test can cut at any point.
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** One SSE event as it came on the wire. */
export interface WireEvent {
  id?: string;
  retry?: number;
  /** The data lines joined; "" for a priming event. */
  data: string;
}

/** The JSON-RPC message an event carries. */
export const messageOf = (e: WireEvent): any => JSON.parse(e.data);

/** Parses complete SSE events (blocks ended by a blank line) out of `text`; returns them and the rest. */
function parseEvents(text: string): { events: WireEvent[]; rest: string } {
  const events: WireEvent[] = [];
  const blocks = text.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const event: WireEvent = { data: '' };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      const field = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') event.id = value;
      else if (field === 'retry') event.retry = Number(value);
      else if (field === 'data') data.push(value);
    }
    event.data = data.join('\n');
    events.push(event);
  }
  return { events, rest };
}

/** An HTTP exchange whose answer is read as it arrives. */
export class WireCall {
  status = 0;
  headers: IncomingMessage['headers'] = {};
  text = '';
  readonly events: WireEvent[] = [];
  ended = false;
  private rest = '';
  private readonly waiters = new Set<() => void>();
  private readonly req: ClientRequest;
  private readonly answered: Promise<void>;

  constructor(port: number, method: string, headers: Record<string, string>, body?: unknown) {
    this.req = request({ host: '127.0.0.1', port, path: '/mcp', method, headers });
    this.answered = new Promise((resolve, reject) => {
      this.req.on('response', (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.take(chunk));
        res.on('end', () => this.finish());
        res.on('error', () => this.finish());
        resolve();
      });
      this.req.on('error', (err) => {
        this.finish();
        reject(err);
      });
    });
    this.answered.catch(() => undefined);
    this.req.end(body === undefined ? undefined : JSON.stringify(body));
  }

  private take(chunk: string): void {
    this.text += chunk;
    const parsed = parseEvents(this.rest + chunk);
    this.rest = parsed.rest;
    this.events.push(...parsed.events);
    this.wake();
  }

  private finish(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** Resolves once the status line and headers are in. */
  response(): Promise<void> {
    return this.answered;
  }

  /** Resolves once `ready()` holds (checked on every chunk), or rejects after `ms`. */
  until(ready: () => boolean, what: string, ms = 10_000): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!ready()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; got so far:\n${this.text}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Resolves when the answer has ended. */
  end(ms = 10_000): Promise<void> {
    return this.until(() => this.ended, 'the end of the answer', ms);
  }

  /** Drops the connection, as a flaky link does. */
  cut(): void {
    this.req.destroy();
  }
}

export const ACCEPT_BOTH = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Opens a session speaking `version`; the headers later requests carry. */
export async function openSession(port: number, version: string): Promise<Record<string, string>> {
  const init = new WireCall(port, 'POST', ACCEPT_BOTH, {
    jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'wire-resume', version: '0' } },
  });
  await init.end();
  if (init.status !== 200) throw new Error(`initialize answered ${init.status}: ${init.text}`);
  const session = { 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': version };
  const initialized = new WireCall(port, 'POST', { ...ACCEPT_BOTH, ...session }, { jsonrpc: '2.0', method: 'notifications/initialized' });
  await initialized.end();
  return session;
}

/** A tools/call message. */
export const toolCall = (id: number, name: string, args: object, progressToken?: string) => ({
  jsonrpc: '2.0', id, method: 'tools/call',
  params: { name, arguments: args, ...(progressToken === undefined ? {} : { _meta: { progressToken } }) },
});

/** A GET that resumes a stream after `lastEventId`. */
export function resume(port: number, session: Record<string, string>, lastEventId: string): WireCall {
  return new WireCall(port, 'GET', { accept: 'text/event-stream', ...session, 'last-event-id': lastEventId });
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort` (set later with `to`),
 * whose connections a test cuts to break a real client's streams. It keeps
 * the first bytes of each connection, to see what the client sent.
 */
export class CutProxy {
  readonly openings: string[] = [];
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly server: Server;
  private targetPort = 0;

  private constructor() {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.once('data', (chunk: Buffer) => this.openings.push(chunk.toString('latin1').slice(0, 2048)));
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
  }

  static async start(): Promise<CutProxy> {
    const proxy = new CutProxy();
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  to(targetPort: number): void {
    this.targetPort = targetPort;
  }

  /** Cuts every connection open now. */
  cutAll(): number {
    const count = this.pairs.size;
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    return count;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
