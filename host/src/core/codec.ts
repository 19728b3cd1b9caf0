// Typed facade over the component's `codec` interface.
import type { Root } from './generated/edge-core.js';
import { callCore } from './errors.js';

type CodecExports = Root['codec'];
export type Algorithm = 'stored' | 'zstd' | 'lz4';

export interface PackOptions {
  /** Which algorithm encodes the payload. */
  algorithm: Algorithm;
  /** Compression level; the algorithm's default when absent. */
  level?: number;
}

export interface FrameInfo {
  algorithm: Algorithm;
  originalLength: number;
  checksum: number;
  dictionaryId?: number;
  headerLength: number;
}

export interface Codec {
  /** Packs bytes into a self-describing mcp-edge frame. */
  pack(data: Uint8Array, options: PackOptions): Uint8Array;
  /** Unpacks a frame; refuses one declaring more than `maxOutput` bytes. */
  unpack(frame: Uint8Array, maxOutput: number): Uint8Array;
  /** Reads a frame's header without decoding the payload. */
  inspect(frame: Uint8Array): FrameInfo;
  /** xxh32 (seed 0), the checksum frames carry. */
  checksum(data: Uint8Array): number;
}

function describe(error: { tag: string; val?: unknown }): string {
  switch (error.tag) {
    case 'truncated':
      return 'The frame is truncated: it ends before its header or payload does.';
    case 'bad-magic':
      return 'These bytes are not an mcp-edge frame (no MEDG magic).';
    case 'unsupported-version':
      return `The frame uses format version ${String(error.val)}, which this core does not read. Upgrade mcp-edge.`;
    case 'unknown-algorithm':
      return `The frame names algorithm code ${String(error.val)}, which this core does not know.`;
    case 'too-large':
      return `The frame declares ${String(error.val)} bytes, above the allowed maximum.`;
    case 'corrupt':
      return `The frame is corrupt: ${String(error.val)}.`;
    case 'unsupported-algorithm':
      return `Algorithm "${String(error.val)}" is not built into this core.`;
    default:
      return `codec error: ${error.tag}`;
  }
}

export function wrapCodec(codec: CodecExports): Codec {
  return {
    pack: (data, options) => callCore(() => codec.pack(data, options), describe),
    unpack: (frame, maxOutput) => callCore(() => codec.unpack(frame, BigInt(maxOutput)), describe),
    inspect: (frame) => {
      const info = callCore(() => codec.inspect(frame), describe);
      return { ...info, originalLength: Number(info.originalLength) };
    },
    checksum: (data) => codec.checksum(data),
  };
}
