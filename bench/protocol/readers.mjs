// The readers of messages from other processes against what they replaced,
// in one run: the line reader of stdio upstreams, mesh streams and
// `mcp-edge stdio` (host/src/protocol/line-buffer.ts) against the MCP SDK's
// ReadBuffer, which it replaced; and the SSE parser (host/src/protocol/sse.ts)
// against a model of what the parser before 6cb97ba did per chunk (its
// unfinished line joined onto the chunk and searched again for a line end);
// on one long message arriving in 64 KiB chunks, as a pipe or socket brings
// it. Time must grow with the message's length, not its square: the ratios
// are the old way's time over the new one's, per size.
//
//   node bench/protocol/readers.mjs         (after `node scripts/run.mjs build`)
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** @type {typeof import('../../host/src/protocol/line-buffer.js')} */
const { LineBuffer } = await import(join(root, 'host/dist/protocol/line-buffer.js'));
/** @type {typeof import('../../host/src/protocol/sse.js')} */
const { SseParser } = await import(join(root, 'host/dist/protocol/sse.js'));

const CHUNK = 64 * 1024;
const SIZES_MIB = [1, 8, 32];

/**
 * Milliseconds to read one line of `mib` MiB, in CHUNK pieces, with `reader` (best of three).
 * @param {number} mib
 * @param {() => { append(chunk: Buffer): void; readMessage(): unknown }} reader
 */
function lineMs(mib, reader) {
  const body = Buffer.alloc(mib * 1024 * 1024, 'x');
  const head = Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"text":"');
  const tail = Buffer.from('"}}\n');
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const r = reader();
    const t0 = performance.now();
    r.append(head);
    for (let at = 0; at < body.length; at += CHUNK) {
      r.append(body.subarray(at, at + CHUNK));
      r.readMessage();
    }
    r.append(tail);
    if (r.readMessage() === null) throw new Error('no message read');
    best = Math.min(best, performance.now() - t0);
  }
  return Number(best.toFixed(1));
}

/**
 * Milliseconds to parse one SSE event whose data line is `mib` MiB (best of three); `joined` feeds the
 * parser as the old one read: the unfinished line so far joined onto every chunk, searched again.
 * @param {number} mib
 * @param {boolean} joined
 */
function sseMs(mib, joined) {
  const piece = 'x'.repeat(CHUNK);
  const chunks = mib * 16;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let events = 0;
    const parser = new SseParser({ event: () => void events++, id: () => undefined, retry: () => undefined });
    const t0 = performance.now();
    if (joined) {
      // The old parser's work per chunk: partial + chunk, and a search of all of it for a line end.
      let partial = 'data: ';
      for (let i = 0; i < chunks; i++) {
        partial += piece;
        if (partial.indexOf('\n') >= 0 || partial.indexOf('\r') >= 0) throw new Error('unexpected line end');
      }
      parser.push(`${partial}\n\n`);
    } else {
      parser.push('data: ');
      for (let i = 0; i < chunks; i++) parser.push(piece);
      parser.push('\n\n');
    }
    if (events !== 1) throw new Error('no event parsed');
    best = Math.min(best, performance.now() - t0);
  }
  return Number(best.toFixed(1));
}

const rows = SIZES_MIB.map((mib) => {
  const sdk = lineMs(mib, () => new ReadBuffer({ maxBufferSize: 128 << 20 }));
  const ours = lineMs(mib, () => new LineBuffer(128 << 20));
  const oldSse = sseMs(mib, true);
  const newSse = sseMs(mib, false);
  return {
    mib,
    line: { sdkReadBufferMs: sdk, lineBufferMs: ours, ratio: Number((sdk / Math.max(ours, 0.1)).toFixed(1)) },
    sse: { joinedPerChunkMs: oldSse, sseParserMs: newSse, ratio: Number((oldSse / Math.max(newSse, 0.1)).toFixed(1)) },
  };
});
console.log(JSON.stringify({ bench: 'protocol/readers', chunkBytes: CHUNK, node: process.version, rows }, null, 2));
