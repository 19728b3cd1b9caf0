// The session's GET stream of the lean Streamable HTTP client (lean-http.ts):
// where an upstream sends what belongs to no call (list_changed, log messages,
// resource updates). Opened once the session is initialized; a server that
// offers none answers 405. When it ends or breaks it is opened again with
// Last-Event-ID after the server's `retry` or a growing delay, a bounded number
// of times in a row, as the SDK's transport does.
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Dispatcher } from 'undici';
import { isEventStream, headerOf } from './lean-wire.js';
import { SseParser, type SseEvent } from '../../protocol/sse.js';

export interface ListenOptions {
  dispatcher: () => Dispatcher;
  origin: string;
  path: string;
  /** The headers of the current session (they may change between attempts). */
  headers: () => Record<string, string>;
  signal: AbortSignal;
  onEvent: (event: SseEvent) => void;
  onError: (error: Error) => void;
}

/** Attempts in a row that may fail before the stream is given up. */
const MAX_RETRIES = 2;
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

export class ListenStream {
  private lastEventId: string | undefined;
  private retryMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ListenOptions) {}

  open(failures = 0): void {
    void this.attempt().then(
      (reachedStream) => this.again(reachedStream ? 0 : failures + 1),
      (err: unknown) => {
        if (this.options.signal.aborted) return;
        if (err instanceof StreamableHTTPError && err.code === 405) return; // the server offers no GET stream
        this.options.onError(err as Error);
        this.again(failures + 1);
      },
    );
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private again(failures: number): void {
    if (this.options.signal.aborted) return;
    if (failures > MAX_RETRIES) {
      this.options.onError(new Error(`Maximum reconnection attempts (${MAX_RETRIES}) exceeded.`));
      return;
    }
    const delay = this.retryMs ?? Math.min(FIRST_DELAY_MS * 1.5 ** failures, MAX_DELAY_MS);
    this.timer = setTimeout(() => this.open(failures), delay);
    this.timer.unref();
  }

  /** One GET, read to its end: true when it gave a stream (so the next attempt starts counting anew). */
  private async attempt(): Promise<boolean> {
    const headers = { ...this.options.headers(), ...(this.lastEventId ? { 'last-event-id': this.lastEventId } : {}) };
    const res = await this.options.dispatcher().request({
      origin: this.options.origin, path: this.options.path, method: 'GET', headers, signal: this.options.signal,
    });
    if (res.statusCode < 200 || res.statusCode >= 300 || !isEventStream(headerOf(res.headers, 'content-type'))) {
      await res.body.dump().catch(() => undefined);
      throw new StreamableHTTPError(res.statusCode, `Failed to open SSE stream (HTTP ${res.statusCode})`);
    }
    const parser = new SseParser({
      event: (event) => this.options.onEvent(event),
      id: (id) => (this.lastEventId = id === '' ? undefined : id),
      retry: (ms) => (this.retryMs = ms),
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) parser.push(decoder.decode(chunk, { stream: true }));
    } catch (err) {
      if (this.options.signal.aborted) return true;
      this.options.onError(new Error(`SSE stream disconnected: ${(err as Error).message}`));
    }
    return true;
  }
}
