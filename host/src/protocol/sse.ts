// An incremental Server-Sent Events parser: chunks may split a line anywhere.
// It follows the WHATWG event-stream rules that matter to a resuming client:
// `data`, `event`, `id` and `retry` fields, comments, CR / LF / CRLF line
// ends, and an id that counts only once its event is complete (a stream cut
// in the middle of an event must be resumed from the event before it).
import { MAX_MESSAGE_BYTES } from './message-size.js';

export interface SseEvent {
  /** The event type; "message" when the stream named none. */
  event: string;
  /** The data lines joined with LF; "" for an event such as a priming event. */
  data: string;
}

export interface SseSink {
  event(event: SseEvent): void;
  /** The id of the event just completed, when it (or an earlier one) set one. */
  id(id: string): void;
  /** A `retry` field: the reconnection delay the server asks for, in ms. */
  retry(ms: number): void;
}

/** Largest event (its data plus any unfinished line), in characters: a stream that never ends a line is refused. */
export const MAX_EVENT_CHARS = MAX_MESSAGE_BYTES;

export class SseParser {
  /** The line not ended yet, in the pieces it came in: joined once it ends, so a long line is copied once, not once per chunk. */
  private partial: string[] = [];
  private partialChars = 0;
  private afterCr = false;
  private data: string[] = [];
  private dataChars = 0;
  private type = '';
  private pendingId: string | undefined;

  constructor(private readonly sink: SseSink) {}

  /** Parses the next chunk of text; throws when one event grows past MAX_EVENT_CHARS. */
  push(chunk: string): void {
    // A CR that ended the previous chunk may be the first half of a CRLF.
    const text = this.afterCr && chunk.startsWith('\n') ? chunk.slice(1) : chunk;
    this.afterCr = false;
    let from = 0;
    for (;;) {
      const end = lineEnd(text, from);
      if (end < 0) break;
      if (this.partial.length > 0) {
        this.partial.push(text.slice(from, end));
        this.line(this.partial.join(''));
        this.partial = [];
        this.partialChars = 0;
      } else this.line(text.slice(from, end));
      from = end + 1;
      if (text.charCodeAt(end) !== CR) continue;
      if (from === text.length) this.afterCr = true;
      else if (text.charCodeAt(from) === LF) from += 1;
    }
    if (from < text.length) {
      this.partial.push(from === 0 ? text : text.slice(from));
      this.partialChars += text.length - from;
    }
    if (this.partialChars + this.dataChars > MAX_EVENT_CHARS) {
      throw new Error(`an SSE event exceeds ${MAX_EVENT_CHARS} characters`);
    }
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === COLON) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === SPACE) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataChars += value.length + 1;
    } else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) this.pendingId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.sink.retry(Number(value));
  }

  private dispatch(): void {
    if (this.pendingId !== undefined) this.sink.id(this.pendingId);
    this.pendingId = undefined;
    if (this.data.length > 0) this.sink.event({ event: this.type || 'message', data: this.data.join('\n') });
    this.data = [];
    this.dataChars = 0;
    this.type = '';
  }
}

const CR = 13;
const LF = 10;
const COLON = 58;
const SPACE = 32;

/** Index of the next CR or LF at or after `from`, or -1. */
function lineEnd(text: string, from: number): number {
  const lf = text.indexOf('\n', from);
  const cr = text.indexOf('\r', from);
  if (cr < 0) return lf;
  if (lf < 0) return cr;
  return Math.min(cr, lf);
}

/** One event written back as SSE text, without id or retry. */
export function sseFrame(event: SseEvent): string {
  return `event: ${event.event}\n${event.data
    .split('\n')
    .map((line) => `data: ${line}\n`)
    .join('')}\n`;
}

/**
 * The text of an event stream's chunks, for the parser above. A chunk that
 * ends on an ASCII byte (an event ends with a newline, so most chunks do)
 * ends no character midway and is decoded on its own; a TextDecoder is made
 * only once a chunk ends midway through one, and keeps the rest for the next
 * chunk from then on. Like a TextDecoder over the whole stream, a BOM counts
 * only at its very start. The hot path's SSE answers are one or two chunks:
 * a decoder per answer cost more than decoding it.
 */
export class StreamText {
  private decoder: TextDecoder | undefined;
  private started = false;

  next(chunk: Buffer): string {
    if (this.decoder) return this.decoder.decode(chunk, { stream: true });
    if (chunk.length === 0) return '';
    const first = !this.started;
    this.started = true;
    const bom = first && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf;
    if (chunk[chunk.length - 1]! < 0x80 && !bom) return chunk.toString('utf8');
    this.decoder = new TextDecoder('utf-8', { ignoreBOM: !first });
    return this.decoder.decode(chunk, { stream: true });
  }
}
