// The Node fast path: zstd-napi (the reference C zstd) and lz4-napi (lz4_flex),
// writing the component's frame format. zstd frames are the component's bytes
// exactly; lz4 frames are not: lz4-napi's encoder writes independent blocks
// sized to the input and no content size, where the component writes linked
// 64 KB blocks with the content size, so payload and checksum differ (each
// engine reads the other's). Where a native call cannot be bounded by the
// caller's maxOutput, a method returns undefined and the facade hands the
// input to the component, whose decoders are always bounded.
import { createRequire } from 'node:module';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { CoreError } from '../core/errors.js';
import { type Algorithm, checkDecoded, checkPayload, type Header, headerLength, readHeader, seal, writeHeader } from './frame.js';
import { type CodecDictionary, checkLevel, dictionaryFor } from './shared.js';

type Lz4 = typeof import('lz4-napi');

/** lz4 never expands more than this per compressed byte; it bounds lz4-napi's output. */
const LZ4_MAX_RATIO = 255;

/** A plain Uint8Array view of a Buffer (no copy): both engines return the same type. */
const u8 = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.length);

function corrupt(err: unknown): never {
  const why = err instanceof Error ? err.message : String(err);
  throw new CoreError('corrupt', `The frame is corrupt: ${why}.`, why);
}

/** Whether an lz4 frame ends exactly with its end mark (the component refuses cut frames; so do we). */
export function lz4EndsCleanly(payload: Uint8Array): boolean {
  if (payload.length < 7) return false;
  const flg = payload[4]!;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 7 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
  for (;;) {
    if (at + 4 > payload.length) return false;
    const size = view.getUint32(at, true) & 0x7fffffff;
    at += 4;
    if (size === 0) return at + (flg & 0x04 ? 4 : 0) === payload.length;
    at += size + (flg & 0x10 ? 4 : 0);
  }
}

export class NativeEngine {
  readonly name = 'native' as const;
  private readonly cctx: ZstdBinding.CCtx;
  private readonly dctx: ZstdBinding.DCtx;
  /** One context per dictionary and level, the dictionary loaded once (sticky across compress2 calls). */
  private readonly dictCctxs = new WeakMap<CodecDictionary, Map<number, ZstdBinding.CCtx>>();
  private readonly ddicts = new WeakMap<CodecDictionary, ZstdBinding.DDict>();

  constructor(
    private readonly zstd: typeof ZstdBinding,
    private readonly lz4: Lz4,
  ) {
    this.cctx = new zstd.CCtx();
    this.dctx = new zstd.DCtx();
  }

  pack(data: Uint8Array, algorithm: Algorithm, level = 3, dictionary?: CodecDictionary): Uint8Array {
    const dictionaryId = dictionary?.id;
    // The checksum (of the payload) is sealed in once the payload is written.
    const header = { algorithm, originalLength: data.length, checksum: 0, dictionaryId };
    const hlen = headerLength(data.length, dictionaryId);
    if (algorithm === 'zstd') {
      checkLevel(level);
      const out = Buffer.allocUnsafe(hlen + this.zstd.compressBound(data.length));
      writeHeader(out, header);
      const dst = out.subarray(hlen);
      const n = dictionary ? this.dictCctx(dictionary, level).compress2(dst, data) : this.cctx.compress(dst, data, level);
      const frame = u8(out.subarray(0, hlen + n));
      seal(frame, hlen, dictionaryId !== undefined);
      return frame;
    }
    const payload = algorithm === 'lz4' ? this.lz4.compressFrameSync(Buffer.from(data.buffer, data.byteOffset, data.length)) : data;
    const out = Buffer.allocUnsafe(hlen + payload.length);
    writeHeader(out, header);
    out.set(payload, hlen);
    const frame = u8(out);
    seal(frame, hlen, dictionaryId !== undefined);
    return frame;
  }

  /** Unpacks a frame, or returns undefined when only the component can bound it. */
  unpack(frame: Uint8Array, maxOutput: number, dictionary?: CodecDictionary): Uint8Array | undefined {
    const header = readHeader(frame, maxOutput);
    const dict = dictionaryFor(header, dictionary);
    const payload = frame.subarray(header.headerLength);
    checkPayload(header, payload);
    const decoded = this.decode(header, payload, maxOutput, dict);
    if (decoded) checkDecoded(header, decoded);
    return decoded;
  }

  private decode(header: Header, payload: Uint8Array, maxOutput: number, dict?: CodecDictionary): Uint8Array | undefined {
    if (header.algorithm === 'stored') return payload.slice();
    if (header.algorithm === 'lz4') {
      // lz4-napi decodes without a ceiling; only use it when the worst case fits under the caller's.
      if (payload.length * LZ4_MAX_RATIO > maxOutput) return undefined;
      if (!lz4EndsCleanly(payload)) throw new CoreError('corrupt', 'The frame is corrupt: lz4 stream is truncated (no end mark).');
      try {
        return u8(this.lz4.decompressFrameSync(Buffer.from(payload.buffer, payload.byteOffset, payload.length)));
      } catch (err) {
        return corrupt(err);
      }
    }
    // zstd decodes into exactly the declared length: a longer stream fails, it cannot grow.
    const out = Buffer.allocUnsafe(header.originalLength);
    try {
      const n = dict ? this.dctx.decompressUsingDDict(out, payload, this.ddict(dict)) : this.dctx.decompress(out, payload);
      return u8(out.subarray(0, n));
    } catch (err) {
      return corrupt(err);
    }
  }

  /** Decodes a bare stream when its size is known and within bounds; undefined otherwise. */
  decodeRaw(algorithm: Algorithm, data: Uint8Array, maxOutput: number, dictionary?: CodecDictionary): Uint8Array | undefined {
    if (algorithm !== 'zstd' || data.length === 0) return undefined;
    let size: number | null;
    try {
      size = this.zstd.getFrameContentSize(data);
      if (this.zstd.findFrameCompressedSize(data) !== data.length) return undefined;
    } catch {
      return undefined;
    }
    if (size === null) return undefined;
    if (size > maxOutput) throw new CoreError('too-large', `The stream decodes to ${size} bytes, above the limit of ${maxOutput}.`, maxOutput);
    const out = Buffer.allocUnsafe(size);
    try {
      const n = dictionary ? this.dctx.decompressUsingDDict(out, data, this.ddict(dictionary)) : this.dctx.decompress(out, data);
      return u8(out.subarray(0, n));
    } catch (err) {
      return corrupt(err);
    }
  }

  /** Frames carry the dictionary id in their header, so the zstd frame leaves it out (as the component's do). */
  private dictCctx(dictionary: CodecDictionary, level: number): ZstdBinding.CCtx {
    let byLevel = this.dictCctxs.get(dictionary);
    if (!byLevel) this.dictCctxs.set(dictionary, (byLevel = new Map()));
    let cctx = byLevel.get(level);
    if (!cctx) {
      cctx = new this.zstd.CCtx();
      cctx.setParameter(this.zstd.CParameter.compressionLevel, level);
      cctx.setParameter(this.zstd.CParameter.dictIDFlag, 0);
      cctx.loadDictionary(dictionary.bytes);
      byLevel.set(level, cctx);
    }
    return cctx;
  }

  private ddict(dictionary: CodecDictionary): ZstdBinding.DDict {
    let ddict = this.ddicts.get(dictionary);
    if (!ddict) this.ddicts.set(dictionary, (ddict = new this.zstd.DDict(dictionary.bytes)));
    return ddict;
  }
}

/** Loads zstd-napi and lz4-napi; undefined when either is missing (browsers, failed native builds). */
export function loadNativeEngine(): NativeEngine | undefined {
  try {
    const require = createRequire(import.meta.url);
    return new NativeEngine(require('zstd-napi/binding') as typeof ZstdBinding, require('lz4-napi') as Lz4);
  } catch {
    return undefined;
  }
}
