// The line reader of stdio upstreams, mesh streams and `mcp-edge stdio`
// (protocol/line-buffer.ts): the same messages as the SDK's ReadBuffer, however
// the chunks fall, one join per line instead of one copy of the line so far
// per chunk (a 32 MiB line in 64 KiB chunks took ~6 s to read), and its bound.
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LineBuffer, LineDropped, withLineBuffer } from '../host/src/protocol/line-buffer.js';

const MESSAGES = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'héllo ✓' } } },
  { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: 1 } },
  { jsonrpc: '2.0', id: 'x', result: { content: [] } },
];

/** Every message `reader` gives for `bytes` cut into chunks of `size`. */
function readAll(reader: { append(chunk: Buffer): void; readMessage(): unknown }, bytes: Buffer, size: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    reader.append(bytes.subarray(i, i + size));
    for (let m = reader.readMessage(); m !== null; m = reader.readMessage()) out.push(m);
  }
  return out;
}

afterEach(() => void vi.restoreAllMocks());

describe('LineBuffer', () => {
  it('gives the messages the SDK ReadBuffer gives, LF or CRLF, however the chunks fall', () => {
    for (const end of ['\n', '\r\n']) {
      const bytes = Buffer.from(MESSAGES.map((m) => JSON.stringify(m) + end).join(''));
      for (const size of [1, 2, 5, 64, bytes.length]) {
        const ours = readAll(new LineBuffer(1 << 20), bytes, size);
        expect(ours, `${JSON.stringify(end)}, chunks of ${size}`).toEqual(MESSAGES);
        expect(ours).toEqual(readAll(new ReadBuffer(), bytes, size));
      }
    }
  });

  it('joins a long line once, at its end, not once per chunk', () => {
    const line = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 7, result: { text: 'x'.repeat(4 << 20) } }) + '\n');
    const concat = vi.spyOn(Buffer, 'concat');
    expect(readAll(new LineBuffer(8 << 20), line, 65_536)).toHaveLength(1);
    expect(concat).toHaveBeenCalledTimes(1);
  });

  it('refuses a message past its bound, ended or not, and reads the next one after it', () => {
    const buffer = new LineBuffer(100);
    expect(() => buffer.append(Buffer.alloc(101, 'x'))).toThrow(/a message of more than 100 bytes/);
    // The last chunk brings the line end, and the line is 101 bytes.
    buffer.append(Buffer.alloc(60, 'x'));
    expect(() => buffer.append(Buffer.from(`${'x'.repeat(41)}\n`))).toThrow(/more than 100 bytes/);
    const next = Buffer.from(JSON.stringify(MESSAGES[2]) + '\n');
    expect(readAll(buffer, next, 7)).toEqual([MESSAGES[2]]);
  });

  it('in "skip" mode drops a line past its bound as it comes (nothing of it held) and reads the lines around it', () => {
    for (const size of [1, 7, 40, 201, 2000]) {
      const buffer = new LineBuffer(200, 'skip');
      const bytes = Buffer.from(`${JSON.stringify(MESSAGES[0])}\n${'x'.repeat(500)}\n${JSON.stringify(MESSAGES[2])}\n`);
      const seen: unknown[] = [];
      for (let i = 0; i < bytes.length; i += size) {
        buffer.append(bytes.subarray(i, i + size));
        expect((buffer as unknown as { partialBytes: number }).partialBytes).toBeLessThanOrEqual(200);
        for (;;) {
          try {
            const m = buffer.readMessage();
            if (m === null) break;
            seen.push(m);
          } catch (err) {
            seen.push(err);
          }
        }
      }
      expect(seen, `chunks of ${size}`).toEqual([MESSAGES[0], expect.any(LineDropped), MESSAGES[2]]);
      expect((seen[1] as LineDropped).bytes).toBe(500);
      expect((seen[1] as LineDropped).message).toBe('a message of 500 bytes is larger than 200 bytes; it was dropped unread');
    }
  });

  it('drops a line that is not a JSON-RPC message, with an error, and goes on', () => {
    const buffer = new LineBuffer(1000);
    buffer.append(Buffer.from(`not json\n${JSON.stringify(MESSAGES[0])}\n`));
    expect(() => buffer.readMessage()).toThrow();
    expect(buffer.readMessage()).toEqual(MESSAGES[0]);
  });

  it('takes the place of the ReadBuffer in both SDK stdio transports (a new SDK that moved it would fail here)', () => {
    const client = withLineBuffer(new StdioClientTransport({ command: 'true' }), 1000) as unknown as { _readBuffer: unknown };
    expect(client._readBuffer).toBeInstanceOf(LineBuffer);
    const server = withLineBuffer(new StdioServerTransport(new PassThrough(), new PassThrough()), 1000) as unknown as { _readBuffer: unknown };
    expect(server._readBuffer).toBeInstanceOf(LineBuffer);
  });
});
