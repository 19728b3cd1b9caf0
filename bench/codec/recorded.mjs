// The recorded MCP traffic in test/corpus/mcp-recorded (see its MANIFEST.md):
// real messages from the reference servers, split by session into train and
// test. The bench and the vitest test read it through here, so both take the
// same lines as train and the same as test.
import { readFileSync } from 'node:fs';

const dir = new URL('../../test/corpus/mcp-recorded/', import.meta.url).pathname;

/**
 * One recorded session: its lines are traffic.jsonl's [start, start + count),
 * and `directions` has one letter per line (c: client to server, s: server to client).
 * @typedef {{ server: string; seed: number; split: 'train' | 'test'; start: number; count: number; directions: string }} RecordedSession
 */

/**
 * The sidecar: per session its server, seed, split and line range (`start`, `count`).
 * @returns {{ lines: number; sessions: RecordedSession[] }}
 */
export function recordedSessions() {
  return JSON.parse(readFileSync(dir + 'sessions.json', 'utf8'));
}

/** Every line of traffic.jsonl as the bytes that crossed the pipe (without the newline). */
export function recordedLines() {
  const bytes = readFileSync(dir + 'traffic.jsonl');
  /** @type {Uint8Array[]} */
  const lines = [];
  let start = 0;
  for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
    lines.push(new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start));
    start = end + 1;
  }
  return lines;
}

/**
 * The band the bench's 1KB-recorded row measures and its dictionary trains on:
 * messages of 256 B - 4 KB (mean ~1 KB, hence the name). The issue calls
 * 0.5-4 KB the queue's common case; the band reaches down to 256 B because
 * short tool results and requests with arguments are frequent too and are
 * where a dictionary helps most. Smaller lines (pings, acks, notifications)
 * and the 9-13 KB tools/list results stay out.
 */
export const inBand = (/** @type {Uint8Array} */ message) => message.length >= 256 && message.length <= 4096;

/** `{ train, test }`: the messages of the train sessions and of the held-out test sessions. */
export function recordedSplit() {
  const lines = recordedLines();
  /** @type {Record<RecordedSession['split'], Uint8Array[]>} */
  const out = { train: [], test: [] };
  for (const s of recordedSessions().sessions) out[s.split].push(...lines.slice(s.start, s.start + s.count));
  return out;
}
