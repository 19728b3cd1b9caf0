// One POST that carried requests, and the HTTP response that answers it.
//
// The response format is chosen late, by the first message that goes out:
// when it is the last response the POST waits for, the answer is a single
// application/json body written in one go (the common tools/call case: one
// write, no stream, nothing stored). When a notification or a request related
// to the POST (progress, logging, sampling) comes first, the answer becomes an
// SSE stream that carries it, and the responses follow on that stream. The
// spec lets the server pick either per POST; the client must accept both.
//
// A stream is resumable (event-store.ts): every event has an id and is kept
// in the session's store, and for clients of protocol 2025-11-25 or later it
// opens with a priming event (an id, `retry`, empty data; older clients may
// not expect empty data). A client that loses the connection resumes with a
// GET carrying Last-Event-ID; the requests run on meanwhile (a disconnect is
// not a cancellation).
//
// A call still unanswered after gateway.stream_after_ms switches to a primed
// stream even when nothing else comes first: without an event id a client
// whose link drops has nothing to resume from, and the calls that run long
// are the ones a flaky link breaks. Calls answered sooner, the common case,
// keep the single JSON body. Only clients that take priming events get the
// switch: for the others an SSE answer with no event yet gives no id either.
// Every exchange waits the same time, so the switch is kept by the process's
// deadline queue for that time (../deadlines.ts), not a timer per POST.
import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { SessionEventStore, SseStream } from './event-store.js';
import { isResponse, messageJson } from './messages.js';
import { deadlinesOf, type Deadline } from '../deadlines.js';

type Mode = 'waiting' | 'streaming' | 'gone' | 'finished';

export const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' };

export interface ExchangeContext {
  sessionHeader: Record<string, string>;
  store: SessionEventStore;
  /** The client takes priming events (protocol 2025-11-25 or later). */
  prime: boolean;
  /** Switch an unanswered call to a primed stream after this many ms; 0 never (gateway.stream_after_ms). */
  streamAfterMs: number;
}

export class Exchange {
  private mode: Mode = 'waiting';
  private readonly awaiting: Set<RequestId>;
  private readonly held: JSONRPCMessage[] = [];
  private stream: SseStream | undefined;
  /** The switch to a primed stream after streamAfterMs, while it is pending. */
  private deadline: Deadline | undefined;

  constructor(
    private readonly res: ServerResponse,
    readonly requestIds: RequestId[],
    private readonly context: ExchangeContext,
  ) {
    this.awaiting = new Set(requestIds);
    // Before a stream starts, a client that hangs up has no id to resume from: it gets nothing more.
    res.once('close', () => {
      if (this.mode === 'waiting') this.stop('gone');
    });
    if (context.prime && context.streamAfterMs > 0) this.deadline = deadlinesOf(context.streamAfterMs).add(() => this.startStream());
  }

  /** Sends `message` on this exchange; true once every response has gone out. */
  deliver(message: JSONRPCMessage): boolean {
    if (isResponse(message)) this.awaiting.delete(message.id);
    const complete = this.awaiting.size === 0;
    if (this.mode === 'gone' || this.mode === 'finished') return complete;
    if (this.mode === 'waiting' && isResponse(message)) {
      this.held.push(message);
      if (complete) this.answerJson();
      return complete;
    }
    this.startStream();
    this.stream!.send(message);
    if (complete) this.finish();
    return complete;
  }

  /** Ends the HTTP response early (the session is closing). */
  abort(): void {
    if (this.mode === 'waiting') {
      this.res.writeHead(200, { ...SSE_HEADERS, ...this.context.sessionHeader }).end();
      this.stop('finished');
    } else this.finish();
  }

  private answerJson(): void {
    const body = this.held.length === 1 ? messageJson(this.held[0]!) : `[${this.held.map(messageJson).join(',')}]`;
    this.res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...this.context.sessionHeader,
    });
    this.res.end(body);
    this.stop('finished');
  }

  /** Turns the answer into a resumable SSE stream (once). */
  private startStream(): void {
    if (this.mode !== 'waiting') return;
    this.stop('streaming');
    this.res.writeHead(200, { ...SSE_HEADERS, ...this.context.sessionHeader });
    const stream = this.context.store.open();
    this.stream = stream;
    stream.attach(this.res);
    if (this.context.prime) stream.prime();
    for (const message of this.held.splice(0)) stream.send(message);
  }

  private finish(): void {
    if (this.mode === 'finished') return;
    this.stop('finished');
    this.stream?.end();
  }

  private stop(mode: Mode): void {
    this.mode = mode;
    if (this.deadline) deadlinesOf(this.context.streamAfterMs).release(this.deadline);
    this.deadline = undefined;
  }
}
