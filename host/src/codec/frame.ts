// The mcp-edge frame header in TypeScript, for the native engine: the same
// bytes as crates/edge-core/src/codec/frame.rs (the table there is the spec),
// so frames from either engine read in the other. Tests pin the equality.
import { CoreError } from '../core/errors.js';

export type Algorithm = 'stored' | 'zstd' | 'lz4';

export const MAGIC = [0x4d, 0x45, 0x44, 0x47]; // "MEDG"
/** The version writers emit; readers accept 1 and 2. */
export const FORMAT_VERSION = 2;
export const FORMAT_VERSION_1 = 1;
export const HEADER_LEN_V1 = 20;
/** The shortest header of any version (v2, length below 128). */
export const MIN_HEADER_LEN = 11;
const FLAG_DICTIONARY_V1 = 0x01;
const FLAG_DICTIONARY_V2 = 0x10;
const CODES: Record<Algorithm, number> = { stored: 0, zstd: 1, lz4: 2 };
const ALGORITHMS: Algorithm[] = ['stored', 'zstd', 'lz4'];

export interface Header {
  /** The format version the frame was written in. */
  version: number;
  algorithm: Algorithm;
  originalLength: number;
  checksum: number;
  dictionaryId?: number;
  headerLength: number;
}

function leb128Length(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** Length of a current-version header for `originalLength` bytes, with or without a dictionary id. */
export function headerLength(originalLength: number, dictionaryId?: number): number {
  return 6 + leb128Length(originalLength) + 4 + (dictionaryId === undefined ? 0 : 4);
}

/** Writes a current-version header into the front of `out` (which must have room); returns its length. */
export function writeHeader(out: Uint8Array, h: Omit<Header, 'headerLength' | 'version'>): number {
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  out[5] = CODES[h.algorithm] | (h.dictionaryId === undefined ? 0 : FLAG_DICTIONARY_V2);
  let at = 6;
  // LEB128 by division: lengths may exceed 2^32, where JS bit operators stop working.
  let v = h.originalLength;
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(at, h.checksum, true);
  at += 4;
  if (h.dictionaryId !== undefined) {
    view.setUint32(at, h.dictionaryId, true);
    at += 4;
  }
  return at;
}

function fail(code: string, message: string, detail?: unknown): never {
  throw new CoreError(code, message, detail);
}

function truncated(): never {
  return fail('truncated', 'The frame is truncated: it ends before its header does.');
}

/** Reads and validates a header (version 1 or 2); refuses frames declaring more than `maxOutput` bytes. */
export function readHeader(frame: Uint8Array, maxOutput: number): Header {
  if (frame.length < MIN_HEADER_LEN) truncated();
  if (MAGIC.some((b, i) => frame[i] !== b)) fail('bad-magic', 'These bytes are not an mcp-edge frame (no MEDG magic).');
  const version = frame[4]!;
  if (version !== FORMAT_VERSION && version !== FORMAT_VERSION_1) fail('unsupported-version', `Frame format version ${version} is not supported.`, version);
  const fields = version === FORMAT_VERSION ? readV2(frame) : readV1(frame);
  if (fields.declared > BigInt(maxOutput)) fail('too-large', `The frame declares ${fields.declared} bytes, above the limit of ${maxOutput}.`, fields.declared);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = fields.checksumAt + 4;
  let dictionaryId: number | undefined;
  if (fields.hasDictionary) {
    if (frame.length < at + 4) fail('truncated', 'The frame is truncated: it ends before its dictionary id.');
    dictionaryId = view.getUint32(at, true);
    at += 4;
  }
  const checksum = view.getUint32(fields.checksumAt, true);
  return { version, algorithm: fields.algorithm, originalLength: Number(fields.declared), checksum, dictionaryId, headerLength: at };
}

interface Fields {
  algorithm: Algorithm;
  hasDictionary: boolean;
  declared: bigint;
  checksumAt: number;
}

function algorithmOf(code: number): Algorithm {
  const algorithm = ALGORITHMS[code];
  if (algorithm === undefined) fail('unknown-algorithm', `Frame algorithm code ${code} is unknown.`, code);
  return algorithm;
}

function readV1(frame: Uint8Array): Fields {
  if (frame.length < HEADER_LEN_V1) truncated();
  const algorithm = algorithmOf(frame[5]!);
  const flags = frame[6]!;
  if ((flags & ~FLAG_DICTIONARY_V1) !== 0 || frame[7] !== 0) fail('corrupt', 'The frame is corrupt: reserved header bits are set.');
  const declared = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getBigUint64(8, true);
  return { algorithm, hasDictionary: (flags & FLAG_DICTIONARY_V1) !== 0, declared, checksumAt: 16 };
}

function readV2(frame: Uint8Array): Fields {
  const algorithm = algorithmOf(frame[5]! & 0x0f);
  const flags = frame[5]! & 0xf0;
  if ((flags & ~FLAG_DICTIONARY_V2) !== 0) fail('corrupt', 'The frame is corrupt: reserved header bits are set.');
  const { value, end } = readLeb128(frame, 6);
  if (frame.length < end + 4) truncated();
  return { algorithm, hasDictionary: flags !== 0, declared: value, checksumAt: end };
}

/** Unsigned LEB128, shortest form only, at most 64 bits (the same rules as the Rust reader). */
function readLeb128(frame: Uint8Array, at: number): { value: bigint; end: number } {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (frame.length < at + i + 1) truncated();
    const byte = frame[at + i]!;
    if (i === 9 && byte > 1) fail('corrupt', 'The frame is corrupt: original length does not fit 64 bits.');
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) fail('corrupt', 'The frame is corrupt: original length is not in its shortest form.');
      return { value, end: at + i + 1 };
    }
  }
  return fail('corrupt', 'The frame is corrupt: original length does not fit 64 bits.');
}

/**
 * Completes a current-version frame whose payload follows its header: writes
 * the payload's checksum into the header (version 2's checksum covers the
 * payload as stored, see frame.rs).
 */
export function seal(frame: Uint8Array, headerLength: number, hasDictionary: boolean): void {
  const at = headerLength - 4 - (hasDictionary ? 4 : 0);
  new DataView(frame.buffer, frame.byteOffset, frame.byteLength).setUint32(at, xxh32(frame.subarray(headerLength)), true);
}

/** Before decoding: a version-2 payload must match the header's checksum. */
export function checkPayload(header: Header, payload: Uint8Array): void {
  if (header.version !== FORMAT_VERSION_1 && xxh32(payload) !== header.checksum) fail('corrupt', 'The frame is corrupt: checksum mismatch.');
}

/** After decoding: the header's length and, for version 1, the checksum of the original bytes. */
export function checkDecoded(header: Header, decoded: Uint8Array): void {
  if (decoded.length !== header.originalLength) fail('corrupt', 'The frame is corrupt: decoded length differs from the header.');
  if (header.version === FORMAT_VERSION_1 && xxh32(decoded) !== header.checksum) fail('corrupt', 'The frame is corrupt: checksum mismatch.');
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
