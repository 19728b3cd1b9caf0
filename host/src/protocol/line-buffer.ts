// Newline-delimited JSON-RPC messages from a byte stream: a stdio upstream's
// stdout, a mesh peer's stream, a stdio client's stdin. The SDK's ReadBuffer
// joins every chunk onto what it holds and searches the whole of it for a line
// end, so a line that comes in n chunks costs n copies of itself: a 32 MiB
// answer in 64 KiB pipe chunks took ~6 s of CPU to read. Here each chunk is
// searched once, and a line's chunks are joined once, at its end. Messages are
// checked by the SDK's own deserializeMessage, as before, or by the owner's
// own check (a stdio client's lines: gateway/streamable/messages.ts).
import { deserializeMessage, ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

const LF = 0x0a;

/** A line past the bound, dropped unread in "skip" mode: what readMessage throws in its place. */
export class LineDropped extends Error {
  override readonly name = 'LineDropped';
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`a message of ${bytes} bytes is larger than ${limit} bytes; it was dropped unread`);
  }
}

/**
 * What a line past the bound does: "throw" (append throws and what was held
 * is dropped: the stream is ended by its owner), or "skip" (the line is
 * discarded as it comes, and readMessage throws LineDropped in its place: the
 * lines after it are read as before).
 */
export type Oversized = 'throw' | 'skip';

type Line = Buffer | LineDropped;

export class LineBuffer {
  /** Complete lines not read yet. */
  private lines: Line[] = [];
  /** The unfinished line, in the chunks it came in. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** In "skip" mode, the bytes of an oversized line dropped so far; undefined when none is. */
  private skipped: number | undefined;

  /** `maxLineBytes`: the largest message; `parse` turns a line into a message or throws (the SDK's check by default). */
  constructor(
    private readonly maxLineBytes: number,
    private readonly oversized: Oversized = 'throw',
    private readonly parse: (line: string) => JSONRPCMessage = deserializeMessage,
  ) {}

  append(chunk: Buffer): void {
    let from = 0;
    for (let end = chunk.indexOf(LF); end >= 0; end = chunk.indexOf(LF, from)) {
      this.endLine(chunk.subarray(from, end));
      from = end + 1;
    }
    if (from === chunk.length) return;
    const rest = chunk.length - from;
    if (this.skipped !== undefined) {
      this.skipped += rest;
      return;
    }
    this.partial.push(from === 0 ? chunk : chunk.subarray(from));
    this.partialBytes += rest;
    if (this.partialBytes > this.maxLineBytes) {
      const held = this.partialBytes;
      this.drop();
      this.skipped = held;
    }
  }

  /** The line that ends with `piece`. */
  private endLine(piece: Buffer): void {
    if (this.skipped !== undefined) {
      this.lines.push(new LineDropped(this.skipped + piece.length, this.maxLineBytes));
      this.skipped = undefined;
      return;
    }
    const bytes = this.partialBytes + piece.length;
    if (bytes > this.maxLineBytes) {
      this.drop();
      this.lines.push(new LineDropped(bytes, this.maxLineBytes));
      return;
    }
    this.lines.push(this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece]));
    this.partial = [];
    this.partialBytes = 0;
  }

  /** Drops the line held, past the bound: in "throw" mode with all the rest, by throwing. */
  private drop(): void {
    this.partial = [];
    this.partialBytes = 0;
    if (this.oversized === 'throw') {
      this.clear();
      throw new Error(`a message of more than ${this.maxLineBytes} bytes`);
    }
  }

  /**
   * The next message, or null when no line is complete; throws for a line
   * that is not a JSON-RPC message (the line is dropped), or LineDropped. A
   * blank line carries nothing to answer: it is passed over.
   */
  readMessage(): JSONRPCMessage | null {
    for (;;) {
      const line = this.lines.shift();
      if (line === undefined) return null;
      if (line instanceof LineDropped) throw line;
      // A CRLF line end leaves its CR on the line.
      const text = line.toString('utf8', 0, line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length);
      if (text.trim() !== '') return this.parse(text);
    }
  }

  /** Hands every complete message to `onMessage` in order, and the error of each line that is not one to `onError`. */
  drain(onMessage: (message: JSONRPCMessage) => void, onError: (err: Error) => void): void {
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.readMessage();
      } catch (err) {
        onError(err as Error);
        continue;
      }
      if (message === null) return;
      onMessage(message);
    }
  }

  clear(): void {
    this.lines = [];
    this.partial = [];
    this.partialBytes = 0;
    this.skipped = undefined;
  }
}

/**
 * Puts a LineBuffer in place of the SDK's ReadBuffer in one of its stdio
 * transports (the client's or the server's: both keep it in `_readBuffer` and
 * use only append, readMessage and clear). Where the field is not a
 * ReadBuffer (another SDK version) the transport is left as it is: correct,
 * only slower on long lines.
 */
export function withLineBuffer<T extends object>(transport: T, maxLineBytes: number, oversized: Oversized = 'throw', parse?: (line: string) => JSONRPCMessage): T {
  const held = transport as { _readBuffer?: unknown };
  if (held._readBuffer instanceof ReadBuffer) held._readBuffer = new LineBuffer(maxLineBytes, oversized, parse);
  return transport;
}
