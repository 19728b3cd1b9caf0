// One HTTP request of the lean upstream client (lean-http.ts) on an undici
// dispatcher, with its body handed over as it arrives. undici's request()
// wraps every body in a Readable stream and its reading in promises; a tools/call
// answer is a few hundred bytes read once, so here the chunks go straight to
// whoever reads them: collected as text, fed to a parser, or dropped.
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { InFlight } from './in-flight.js';
import { MessageTooLarge } from '../../protocol/bounded-body.js';

export interface LeanResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: LeanBody;
}

interface BodyReader {
  data(chunk: Buffer): void;
  end(): void;
  error(error: Error): void;
}

/** A response body; read it one way only: text(), read() or dump(). */
export class LeanBody {
  private chunks: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  private reader: BodyReader | undefined;

  /** `abort` ends the exchange the body comes on (its connection): whole() calls it on a body past its limit. */
  constructor(private readonly abort?: (error: Error) => void) {}

  /** @internal the dispatcher's side */
  push(chunk: Buffer): void {
    if (this.reader) this.reader.data(chunk);
    else this.chunks.push(chunk);
  }

  /** @internal */
  end(): void {
    this.ended = true;
    this.reader?.end();
  }

  /** @internal */
  fail(error: Error): void {
    this.failure = error;
    this.reader?.error(error);
  }

  /** Gives the chunks that came and those to come to `reader`, then the end or the failure. */
  read(reader: BodyReader): void {
    this.reader = reader;
    const held = this.chunks;
    this.chunks = [];
    for (const chunk of held) reader.data(chunk);
    if (this.failure) reader.error(this.failure);
    else if (this.ended) reader.end();
  }

  /** The whole body as UTF-8 text (at most `limit` bytes of it). */
  text(limit = Infinity): Promise<string> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let size = 0;
      this.read({
        data: (chunk) => {
          if (size < limit) parts.push(chunk);
          size += chunk.length;
        },
        end: () => resolve((parts.length === 1 ? parts[0]! : Buffer.concat(parts)).subarray(0, limit).toString('utf8')),
        error: reject,
      });
    });
  }

  /**
   * The whole body as UTF-8 text; past `max` bytes it rejects at once and
   * aborts the exchange, so that an upstream's endless answer costs at most
   * `max` bytes and no connection (text() reads on to the end).
   */
  whole(max: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let size = 0;
      this.read({
        data: (chunk) => {
          if (size > max) return;
          size += chunk.length;
          if (size <= max) return void parts.push(chunk);
          parts.length = 0;
          const error = new MessageTooLarge(max, 'the answer');
          reject(error);
          this.abort?.(error);
        },
        end: () => resolve((parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString('utf8')),
        error: reject,
      });
    });
  }

  /** Lets the body go (read to its end, so the connection is reused). */
  dump(): void {
    this.read({ data: () => undefined, end: () => undefined, error: () => undefined });
  }
}

export interface LeanRequest {
  origin: string;
  path: string;
  method: 'POST' | 'GET' | 'DELETE';
  headers: Record<string, string>;
  body?: string;
}

/**
 * Sends `request` on `dispatcher`; resolves with the status and headers when
 * they arrive (the body follows on LeanBody), rejects when no answer came.
 * `inFlight` holds the request's controller until it ends: closing the
 * transport aborts what is in it.
 */
export function leanRequest(dispatcher: Dispatcher, request: LeanRequest, inFlight: InFlight): Promise<LeanResponse> {
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    const body = new LeanBody((error) => controller?.abort(error));
    let answered = false;
    let slot = -1;
    const done = () => {
      if (controller) inFlight.delete(slot, controller);
    };
    dispatcher.dispatch(request, {
      onRequestStart(c) {
        controller = c;
        slot = inFlight.add(c);
      },
      onResponseStart(_c, status, headers) {
        // 1xx answers are followed by the real one.
        if (status < 200 || answered) return;
        answered = true;
        resolve({ status, headers, body });
      },
      onResponseData(_c, chunk) {
        body.push(chunk);
      },
      onResponseEnd() {
        done();
        body.end();
      },
      onResponseError(_c, error) {
        done();
        if (answered) body.fail(error);
        else reject(error);
      },
    });
  });
}
