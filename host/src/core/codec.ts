// Typed facade over the component's `codec` interface: frames, zstd/lz4,
// trained dictionaries and bare-stream decoding. The two-engine API that the
// rest of the host uses lives in host/src/codec/.
import type { DirectCodec } from './direct.js';
import type { Root } from './generated/edge-core.js';
import { callCore, CoreError } from './errors.js';

type CodecExports = Root['codec'];
type RawDictionary = CodecExports['Dictionary']['prototype'];
export type Algorithm = 'stored' | 'zstd' | 'lz4';

export interface PackOptions {
  /** Which algorithm encodes the payload. */
  algorithm: Algorithm;
  /** zstd level (-7..=22, 3 when absent); lz4 and stored ignore it. */
  level?: number;
}

export interface FrameInfo {
  algorithm: Algorithm;
  originalLength: number;
  checksum: number;
  dictionaryId?: number;
  headerLength: number;
}

/** A zstd dictionary living inside the component. */
export interface CoreDictionary {
  /** The id frames packed with it carry. */
  readonly id: number;
  /** How pack and unpack reach the core: the direct lane (direct.ts) or jco's bindings. */
  readonly lane: 'direct' | 'jco';
  /** Its bytes (a standard zstd dictionary). */
  toBytes(): Uint8Array;
  pack(data: Uint8Array, level?: number): Uint8Array;
  unpack(frame: Uint8Array, maxOutput: number): Uint8Array;
  decodeRaw(data: Uint8Array, maxOutput: number): Uint8Array;
}

/**
 * Returned bytes are the caller's, but an output of up to 16 KiB may be a view
 * into a buffer shared with other small outputs (see core/output-pool.ts):
 * mind `byteOffset`, and `.slice()` one before transferring its buffer.
 */
export interface Codec {
  /** Packs bytes into a self-describing mcp-edge frame. */
  pack(data: Uint8Array, options: PackOptions): Uint8Array;
  /** Unpacks a frame; refuses one declaring more than `maxOutput` bytes. */
  unpack(frame: Uint8Array, maxOutput: number): Uint8Array;
  /** Reads a frame's header without decoding the payload. */
  inspect(frame: Uint8Array): FrameInfo;
  /** Decodes a bare zstd/lz4 stream (as the CLI tools write), at most `maxOutput` bytes. */
  decodeRaw(algorithm: Algorithm, data: Uint8Array, maxOutput: number): Uint8Array;
  /** Trains a zstd dictionary (at most `maxSize` bytes) from sample messages. */
  trainDictionary(samples: Uint8Array[], maxSize: number): CoreDictionary;
  /** Loads a zstd dictionary from its bytes (ours, or `zstd --train`'s). */
  loadDictionary(bytes: Uint8Array): CoreDictionary;
  /** xxh32 (seed 0), the checksum frames carry. */
  checksum(data: Uint8Array): number;
}

const MESSAGES: Record<string, (val: unknown) => string> = {
  truncated: () => 'The frame is truncated: it ends before its header or payload does.',
  'bad-magic': () => 'These bytes are not an mcp-edge frame (no MEDG magic).',
  'unsupported-version': (v) => `The frame uses format version ${String(v)}, which this core does not read. Upgrade mcp-edge.`,
  'unknown-algorithm': (v) => `The frame names algorithm code ${String(v)}, which this core does not know.`,
  'too-large': (v) => `The output would be ${String(v)} bytes or more, above the allowed maximum. Raise maxOutput if the data is trusted.`,
  corrupt: (v) => `The frame is corrupt: ${String(v)}.`,
  'unsupported-algorithm': (v) => `Algorithm "${String(v)}" is not built into this core.`,
  'invalid-level': (v) => `Compression level ${String(v)} is out of range; zstd takes -7..22.`,
  'dictionary-required': (v) => `The frame was packed with dictionary ${String(v)}; unpack it with that dictionary.`,
  'dictionary-mismatch': (v) => `The frame needs dictionary ${String(v)}, but a different dictionary was given.`,
  'dictionary-invalid': (v) => `The dictionary is unusable: ${String(v)}.`,
  'dictionary-unsupported': (v) => `Algorithm "${String(v)}" cannot use a dictionary; use zstd.`,
  'out-of-memory': (v) => `The core could not reserve ${String(v)} bytes for the output.`,
  'compress-failed': (v) => `Compression failed (a bug, please report it): ${String(v)}.`,
};

/** An output ceiling as the core takes it; anything but a whole number of bytes, 0 or more, is refused here. */
function limit(maxOutput: number): bigint {
  if (!Number.isSafeInteger(maxOutput) || maxOutput < 0) {
    throw new CoreError('invalid-limit', `maxOutput must be a whole number of bytes, 0 or more (got ${maxOutput}).`);
  }
  return BigInt(maxOutput);
}

export function describe(error: { tag: string; val?: unknown }): string {
  return MESSAGES[error.tag]?.(error.val) ?? `codec error: ${error.tag}`;
}

function wrapDictionary(raw: RawDictionary, direct?: DirectCodec): CoreDictionary {
  const lane = direct?.dictionary(() => raw.id());
  return {
    id: raw.id(),
    lane: lane ? 'direct' : 'jco',
    toBytes: () => raw.toBytes(),
    pack: (data, level) => lane?.pack(data, level) ?? callCore(() => raw.pack(data, level), describe),
    unpack: (frame, maxOutput) => {
      const max = limit(maxOutput);
      return lane?.unpack(frame, max) ?? callCore(() => raw.unpack(frame, max), describe);
    },
    decodeRaw: (data, maxOutput) => callCore(() => raw.decodeRaw(data, limit(maxOutput)), describe),
  };
}

/** The codec facade; `direct` (see direct.ts) takes the success path of pack and unpack when given. */
export function wrapCodec(codec: CodecExports, direct?: DirectCodec): Codec {
  return {
    pack: (data, options) =>
      direct?.pack(data, options.algorithm, options.level) ?? callCore(() => codec.pack(data, options), describe),
    unpack: (frame, maxOutput) => {
      const max = limit(maxOutput);
      return direct?.unpack(frame, max) ?? callCore(() => codec.unpack(frame, max), describe);
    },
    inspect: (frame) => {
      const info = callCore(() => codec.inspect(frame), describe);
      return { ...info, originalLength: Number(info.originalLength) };
    },
    decodeRaw: (algorithm, data, maxOutput) => callCore(() => codec.decodeRaw(algorithm, data, limit(maxOutput)), describe),
    trainDictionary: (samples, maxSize) => wrapDictionary(callCore(() => codec.Dictionary.train(samples, maxSize), describe), direct),
    loadDictionary: (bytes) => wrapDictionary(callCore(() => codec.Dictionary.load(bytes), describe), direct),
    checksum: (data) => codec.checksum(data),
  };
}
