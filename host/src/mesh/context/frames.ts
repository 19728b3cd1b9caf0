// Length-prefixed binary frames on a libp2p stream (a 4-byte big-endian
// length, then that many bytes): Yjs updates and state vectors are bytes, and
// base64 in JSON lines would grow them by a third. Every read has a bound
// (checked on the length, before the bytes arrive) and a deadline.
import type { Stream } from '@libp2p/interface';
import { ContextError } from '../errors.js';

const HEADER_BYTES = 4;

export async function writeFrames(stream: Stream, frames: readonly Uint8Array[]): Promise<void> {
  for (const frame of frames) {
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32BE(frame.length);
    if (!stream.send(Buffer.concat([header, frame]))) await stream.onDrain();
  }
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake: (() => void) | undefined;

  /** Listens at once: bytes that arrive before the first next() are kept. */
  constructor(stream: Stream) {
    stream.addEventListener('message', (event) => {
      const bytes = Buffer.from(event.data.subarray());
      this.chunks.push(bytes);
      this.buffered += bytes.length;
      this.wake?.();
    });
    const end = (): void => {
      this.ended = true;
      this.wake?.();
    };
    stream.addEventListener('remoteCloseWrite', end);
    stream.addEventListener('close', end);
  }

  /** The next frame; ContextError "too-large" when its length is over `maxBytes`, an Error when the stream ends first or `signal` aborts. */
  async next(maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
    for (;;) {
      const frame = this.take(maxBytes);
      if (frame) return frame;
      if (this.ended) throw new Error('the peer ended the context stream in the middle of the exchange');
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener('abort', done);
      });
    }
  }

  private take(maxBytes: number): Buffer | undefined {
    if (this.buffered < HEADER_BYTES) return undefined;
    if (this.chunks[0]!.length < HEADER_BYTES) this.chunks = [Buffer.concat(this.chunks)];
    const size = this.chunks[0]!.readUInt32BE(0);
    if (size > maxBytes) throw new ContextError('too-large', `the peer sent a frame of ${size} bytes, over the limit of ${maxBytes}`);
    // Joined only once the whole frame is here: a large frame arrives in many chunks.
    if (this.buffered < HEADER_BYTES + size) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const frame = all.subarray(HEADER_BYTES, HEADER_BYTES + size);
    const rest = all.subarray(HEADER_BYTES + size);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}
