// Newline-delimited JSON-RPC messages from a byte stream: a stdio upstream's
// stdout, a mesh peer's stream, a stdio client's stdin. The SDK's ReadBuffer
// joins every chunk onto what it holds and searches the whole of it for a line
// end, so a line that comes in n chunks costs n copies of itself: a 32 MiB
// answer in 64 KiB pipe chunks took ~6 s of CPU to read. Here each chunk is
// searched once, and a line's chunks are joined once, at its end. Messages are
// checked by the SDK's own deserializeMessage, as before.
import { deserializeMessage, ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

const LF = 0x0a;

export class LineBuffer {
  /** Complete lines not read yet. */
  private lines: Buffer[] = [];
  /** The unfinished line, in the chunks it came in. */
  private partial: Buffer[] = [];
  private partialBytes = 0;

  /** `maxLineBytes`: the largest message; past it append() throws and what was held is dropped. */
  constructor(private readonly maxLineBytes: number) {}

  append(chunk: Buffer): void {
    let from = 0;
    for (let end = chunk.indexOf(LF); end >= 0; end = chunk.indexOf(LF, from)) {
      const piece = chunk.subarray(from, end);
      if (this.partialBytes + piece.length > this.maxLineBytes) this.tooLarge();
      this.lines.push(this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece]));
      this.partial = [];
      this.partialBytes = 0;
      from = end + 1;
    }
    if (from === chunk.length) return;
    this.partial.push(from === 0 ? chunk : chunk.subarray(from));
    this.partialBytes += chunk.length - from;
    if (this.partialBytes > this.maxLineBytes) this.tooLarge();
  }

  private tooLarge(): never {
    this.clear();
    throw new Error(`a message of more than ${this.maxLineBytes} bytes`);
  }

  /** The next message, or null when no line is complete; throws for a line that is not a JSON-RPC message (the line is dropped). */
  readMessage(): JSONRPCMessage | null {
    const line = this.lines.shift();
    if (line === undefined) return null;
    // A CRLF line end leaves its CR on the line.
    const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
    return deserializeMessage(line.toString('utf8', 0, end));
  }

  clear(): void {
    this.lines = [];
    this.partial = [];
    this.partialBytes = 0;
  }
}

/**
 * Puts a LineBuffer in place of the SDK's ReadBuffer in one of its stdio
 * transports (the client's or the server's: both keep it in `_readBuffer` and
 * use only append, readMessage and clear). Where the field is not a
 * ReadBuffer (another SDK version) the transport is left as it is: correct,
 * only slower on long lines.
 */
export function withLineBuffer<T extends object>(transport: T, maxLineBytes: number): T {
  const held = transport as { _readBuffer?: unknown };
  if (held._readBuffer instanceof ReadBuffer) held._readBuffer = new LineBuffer(maxLineBytes);
  return transport;
}
