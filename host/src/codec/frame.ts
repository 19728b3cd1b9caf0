// The mcp-edge frame header in TypeScript, for the native engine: the same
// bytes as crates/edge-core/src/codec/frame.rs (the table there is the spec),
// so frames from either engine read in the other. Tests pin the equality.
import { CoreError } from '../core/errors.js';

export type Algorithm = 'stored' | 'zstd' | 'lz4';

export const MAGIC = [0x4d, 0x45, 0x44, 0x47]; // "MEDG"
export const FORMAT_VERSION = 1;
export const HEADER_LEN = 20;
const FLAG_DICTIONARY = 1;
const CODES: Record<Algorithm, number> = { stored: 0, zstd: 1, lz4: 2 };
const ALGORITHMS: Algorithm[] = ['stored', 'zstd', 'lz4'];

export interface Header {
  algorithm: Algorithm;
  originalLength: number;
  checksum: number;
  dictionaryId?: number;
  headerLength: number;
}

/** Length of the header for a frame with or without a dictionary id. */
export function headerLength(dictionaryId?: number): number {
  return HEADER_LEN + (dictionaryId === undefined ? 0 : 4);
}

/** Writes the header into the front of `out` (which must have room). */
export function writeHeader(out: Uint8Array, h: Omit<Header, 'headerLength'>): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  out[5] = CODES[h.algorithm];
  out[6] = h.dictionaryId === undefined ? 0 : FLAG_DICTIONARY;
  out[7] = 0;
  view.setBigUint64(8, BigInt(h.originalLength), true);
  view.setUint32(16, h.checksum, true);
  if (h.dictionaryId !== undefined) view.setUint32(20, h.dictionaryId, true);
  return headerLength(h.dictionaryId);
}

function fail(code: string, message: string, detail?: unknown): never {
  throw new CoreError(code, message, detail);
}

/** Reads and validates a header; refuses frames declaring more than `maxOutput` bytes. */
export function readHeader(frame: Uint8Array, maxOutput: number): Header {
  if (frame.length < HEADER_LEN) fail('truncated', 'The frame is truncated: it ends before its header does.');
  if (MAGIC.some((b, i) => frame[i] !== b)) fail('bad-magic', 'These bytes are not an mcp-edge frame (no MEDG magic).');
  if (frame[4] !== FORMAT_VERSION) fail('unsupported-version', `Frame format version ${frame[4]} is not supported.`, frame[4]);
  const algorithm = ALGORITHMS[frame[5]!];
  if (algorithm === undefined) fail('unknown-algorithm', `Frame algorithm code ${frame[5]} is unknown.`, frame[5]);
  const flags = frame[6]!;
  if ((flags & ~FLAG_DICTIONARY) !== 0 || frame[7] !== 0) fail('corrupt', 'The frame is corrupt: reserved header bits are set.');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const declared = view.getBigUint64(8, true);
  if (declared > BigInt(maxOutput)) fail('too-large', `The frame declares ${declared} bytes, above the limit of ${maxOutput}.`, declared);
  let dictionaryId: number | undefined;
  if (flags & FLAG_DICTIONARY) {
    if (frame.length < HEADER_LEN + 4) fail('truncated', 'The frame is truncated: it ends before its dictionary id.');
    dictionaryId = view.getUint32(20, true);
  }
  const checksum = view.getUint32(16, true);
  return { algorithm, originalLength: Number(declared), checksum, dictionaryId, headerLength: headerLength(dictionaryId) };
}

/** Checks decoded bytes against the header's length and checksum. */
export function verify(header: Header, decoded: Uint8Array): void {
  if (decoded.length !== header.originalLength) fail('corrupt', 'The frame is corrupt: decoded length differs from the header.');
  if (xxh32(decoded) !== header.checksum) fail('corrupt', 'The frame is corrupt: checksum mismatch.');
}

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;
const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
const round = (acc: number, lane: number) => Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);

/** xxh32 with seed 0 (the checksum frames carry), written from the xxHash spec. */
export function xxh32(data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const len = data.length;
  let i = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (P1 + P2) | 0, v2 = P2, v3 = 0, v4 = -P1 | 0;
    for (const limit = len - 16; i <= limit; i += 16) {
      v1 = round(v1, view.getUint32(i, true));
      v2 = round(v2, view.getUint32(i + 4, true));
      v3 = round(v3, view.getUint32(i + 8, true));
      v4 = round(v4, view.getUint32(i + 12, true));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = P5;
  }
  h = (h + len) | 0;
  for (; i + 4 <= len; i += 4) h = Math.imul(rotl((h + Math.imul(view.getUint32(i, true), P3)) | 0, 17), P4);
  for (; i < len; i++) h = Math.imul(rotl((h + Math.imul(data[i]!, P5)) | 0, 11), P1);
  h = Math.imul(h ^ (h >>> 15), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}
