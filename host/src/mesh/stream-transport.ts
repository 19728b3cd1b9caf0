// MCP JSON-RPC over one libp2p stream: newline-delimited JSON messages, as on
// stdio, so the SDK's Client and Server run over the mesh unchanged and calls
// keep their semantics (progress, cancellation, errors, timeouts).
import type { Stream } from '@libp2p/interface';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LineBuffer } from '../protocol/line-buffer.js';
import { MAX_MESSAGE_BYTES } from '../protocol/message-size.js';

/** The mesh's MCP protocol id: one stream carries one MCP session. */
export const MCP_PROTOCOL = '/mcp-edge/mcp/1.0.0';

/** A message was not written because the stream had closed: the peer never got it, so it may be sent again on a new stream. */
export class StreamClosedError extends Error {}

export class StreamTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  // Past the bound the buffer throws, and the stream is ended: the throw came out of the stream's
  // listener uncaught, and one line from a peer past the SDK's default (10 MiB) ended the process.
  private readonly buffer = new LineBuffer(MAX_MESSAGE_BYTES);
  private closed = false;

  constructor(private readonly stream: Stream) {}

  async start(): Promise<void> {
    this.stream.addEventListener('message', (event) => {
      try {
        this.buffer.append(Buffer.from(event.data.subarray()));
      } catch (err) {
        this.onerror?.(new Error(`the peer sent ${(err as Error).message}: the stream was ended`));
        this.stream.abort(err as Error);
        this.ended();
        return;
      }
      this.drainMessages();
    });
    this.stream.addEventListener('remoteCloseWrite', () => this.ended());
    this.stream.addEventListener('close', () => this.ended());
  }

  private drainMessages(): void {
    this.buffer.drain(
      (message) => this.onmessage?.(message),
      (err) => this.onerror?.(err),
    );
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed || this.stream.writeStatus !== 'writable') throw new StreamClosedError('the mesh stream to the peer is closed');
    if (!this.stream.send(new TextEncoder().encode(serializeMessage(message)))) await this.stream.onDrain();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.stream.close().catch((err: Error) => this.stream.abort(err));
    this.ended();
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffer.clear();
    if (this.stream.status === 'open') this.stream.abort(new Error('the MCP session over this stream ended'));
    this.onclose?.();
  }
}
