// One POST that carried requests, and the HTTP response that answers it.
//
// The response format is chosen late, by the first message that goes out:
// when it is the last response the POST waits for, the answer is a single
// application/json body written in one go (the common tools/call case: one
// write, no stream). When a notification or a request related to the POST
// (progress, logging, sampling) comes first, the answer becomes an SSE stream
// that carries it, and the responses follow on that stream. The spec lets the
// server pick either per POST; the client must accept both.
import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { isResponse } from './messages.js';

type Mode = 'waiting' | 'streaming' | 'finished';

export function sseEvent(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

export class Exchange {
  private mode: Mode = 'waiting';
  private readonly awaiting: Set<RequestId>;
  private readonly held: JSONRPCMessage[] = [];

  constructor(
    private readonly res: ServerResponse,
    readonly requestIds: RequestId[],
    private readonly sessionHeader: Record<string, string>,
  ) {
    this.awaiting = new Set(requestIds);
    // A client that hangs up gets nothing more; the requests still run (the
    // spec says a disconnect is not a cancellation).
    res.once('close', () => {
      this.mode = 'finished';
    });
  }

  /** Sends `message` on this exchange; true once every response has gone out. */
  deliver(message: JSONRPCMessage): boolean {
    if (isResponse(message)) this.awaiting.delete(message.id);
    const complete = this.awaiting.size === 0;
    if (this.mode === 'finished') return complete;
    if (this.mode === 'waiting' && isResponse(message)) {
      this.held.push(message);
      if (complete) this.answerJson();
      return complete;
    }
    if (this.mode === 'waiting') this.startStream();
    this.res.write(sseEvent(message));
    if (complete) this.finish();
    return complete;
  }

  /** Ends the HTTP response early (the session is closing). */
  abort(): void {
    if (this.mode === 'waiting') this.startStream();
    this.finish();
  }

  private answerJson(): void {
    const body = JSON.stringify(this.held.length === 1 ? this.held[0] : this.held);
    this.res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...this.sessionHeader,
    });
    this.res.end(body);
    this.mode = 'finished';
  }

  private startStream(): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      ...this.sessionHeader,
    });
    this.mode = 'streaming';
    for (const message of this.held.splice(0)) this.res.write(sseEvent(message));
  }

  private finish(): void {
    if (this.mode !== 'finished') this.res.end();
    this.mode = 'finished';
  }
}
