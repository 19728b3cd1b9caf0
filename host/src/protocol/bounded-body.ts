// Bodies read through fetch from another process, bounded as every other way
// in is (message-size.ts). The SDK's client transports (the queue's
// deliveries over Streamable HTTP, an upstream on the legacy HTTP+SSE
// transport) read a JSON answer whole with `response.json()` and an event
// stream one event at a time, each without end, as did the queue's batch
// client and the cloud model engine: an endless answer grew until the process
// ran out of memory. Here the body itself errors past the bound, and the
// connection under it is cancelled: whoever reads it gets a MessageTooLarge,
// whatever reader it uses. (Upstreams over Streamable HTTP use the lean client,
// which has its own bound: lean-request.ts.)
import { MAX_MESSAGE_BYTES } from './message-size.js';

/** A message from another process passed the bound. */
export class MessageTooLarge extends Error {
  override readonly name = 'MessageTooLarge';
  constructor(
    readonly limit: number,
    what: string,
  ) {
    super(`${what} is larger than ${limit} bytes: it was not read further and its connection was closed`);
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The size of the server-sent event being read, across chunks. An event ends
 * at a blank line; a line ends at CR, LF or CRLF (the forms the SSE format
 * allows). Counts the bytes of the event's lines.
 */
export class SseEventMeter {
  private eventBytes = 0;
  private lineBytes = 0;
  private afterCr = false;

  constructor(private readonly max: number) {}

  /** Takes the next chunk; false when the event it is in has passed the bound. */
  push(chunk: Uint8Array): boolean {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      // The LF of a CRLF: its CR ended the line already.
      if (byte === LF && this.afterCr) {
        this.afterCr = false;
        continue;
      }
      this.afterCr = byte === CR;
      if (byte === LF || byte === CR) {
        if (this.lineBytes === 0) this.eventBytes = 0;
        this.lineBytes = 0;
        continue;
      }
      this.lineBytes += 1;
      this.eventBytes += 1;
      if (this.eventBytes > this.max) return false;
    }
    return true;
  }
}

/**
 * `response` with its body bounded: a JSON (or any other) body at `max` bytes
 * in all, an event stream at `max` bytes per event, so a stream that lives
 * for hours is not cut. `ended` is called once the body has been read to its
 * end or refused.
 */
export function boundedMessages(response: Response, what: string, ended?: () => void, max = MAX_MESSAGE_BYTES): Response {
  if (!response.body) {
    ended?.();
    return response;
  }
  const meter = response.headers.get('content-type')?.includes('text/event-stream') ? new SseEventMeter(max) : undefined;
  let total = 0;
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const within = meter ? meter.push(chunk) : (total += chunk.byteLength) <= max;
        if (within) return controller.enqueue(chunk);
        // Erroring the readable side also cancels the source: the connection closes.
        controller.error(new MessageTooLarge(max, meter ? `an event of ${what}` : what));
        ended?.();
      },
      flush: ended,
    }),
  );
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * The whole body as UTF-8 text, at most `max` bytes of it. Past the bound it
 * rejects with MessageTooLarge, or with `cut` resolves with what came so far
 * (an error page shown in part). The body is cancelled either way.
 */
export async function boundedText(response: Response, what: string, max: number, cut = false): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text + decoder.decode();
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      if (!cut) throw new MessageTooLarge(max, what);
      return text + decoder.decode(value.subarray(0, value.byteLength - (total - max)));
    }
    text += decoder.decode(value, { stream: true });
  }
}
