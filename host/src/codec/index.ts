// One codec API, two engines. The component (the Rust core as wasm) runs
// everywhere; on Node, zstd-napi + lz4-napi are the native fast path. Both
// write one frame format (header: host/src/codec/frame.ts, spec in
// crates/edge-core/src/codec/frame.rs) and read each other's frames, so a
// payload queued by one engine is read by the other. zstd and stored frames
// are the same bytes from either engine; lz4 frames are not (different LZ4
// frame settings, see native.ts). Inputs the native path cannot bound go to
// the component.
import { CoreError, type EdgeCore, loadCore } from '../core/index.js';
import type { CoreDictionary } from '../core/codec.js';
import { type Algorithm, type Header, readHeader } from './frame.js';
import { CodecDictionary } from './shared.js';
import type { NativeEngine } from './native.js';

export { CodecDictionary } from './shared.js';
export { xxh32, type Algorithm, type Header } from './frame.js';

export type EngineName = 'component' | 'native';

export interface CreateCodecOptions {
  /** 'auto' (default): native on Node when zstd-napi and lz4-napi load, else the component. */
  engine?: 'auto' | EngineName;
  /** An already loaded core, to share one instance. */
  core?: EdgeCore;
}

export interface PackOptions {
  algorithm: Algorithm;
  /** zstd level, -7..22 (3 when absent); lz4 and stored ignore it. */
  level?: number;
  /** zstd only: pack with this dictionary; the frame records its id. */
  dictionary?: CodecDictionary;
}

export interface UnpackOptions {
  /** Ceiling on the decoded size; larger frames are refused (too-large). */
  maxOutput: number;
  /** The dictionary the frame was packed with, if any. */
  dictionary?: CodecDictionary;
}

/**
 * Returned bytes are the caller's, but may be a view into a larger buffer
 * (pooled small outputs on both engines, Node Buffers on the native one):
 * mind `byteOffset`, and `.slice()` an output before transferring its buffer.
 */
export interface EdgeCodec {
  /** The engine that packs; unpacking falls back to the component where native cannot bound. */
  readonly engine: EngineName;
  pack(data: Uint8Array, options: PackOptions): Uint8Array;
  unpack(frame: Uint8Array, options: UnpackOptions): Uint8Array;
  inspect(frame: Uint8Array): Header;
  /** Decodes a bare zstd or lz4 stream (what `zstd`/`lz4` and the napi packages write). */
  decodeRaw(algorithm: Algorithm, data: Uint8Array, options: UnpackOptions): Uint8Array;
  /**
   * Trains a zstd dictionary of at most `maxSize` bytes from sample messages (deterministic).
   * Synchronous and CPU-bound: zstd's COVER trainer with a parameter search, about 3 s per MB of samples.
   */
  trainDictionary(samples: Uint8Array[], maxSize?: number): CodecDictionary;
  /** Loads a zstd dictionary from bytes (from `trainDictionary(...).bytes` or `zstd --train`). */
  loadDictionary(bytes: Uint8Array): CodecDictionary;
}

/** The component side: dictionaries become component resources on first use. */
class ComponentEngine {
  readonly name = 'component' as const;
  private readonly dicts = new WeakMap<CodecDictionary, CoreDictionary>();
  constructor(readonly core: EdgeCore) {}

  dict(d: CodecDictionary): CoreDictionary {
    let handle = this.dicts.get(d);
    if (!handle) this.dicts.set(d, (handle = this.core.codec.loadDictionary(d.bytes)));
    return handle;
  }

  pack(data: Uint8Array, o: PackOptions): Uint8Array {
    if (!o.dictionary) return this.core.codec.pack(data, { algorithm: o.algorithm, level: o.level });
    return this.dict(o.dictionary).pack(data, o.level);
  }

  unpack(frame: Uint8Array, o: UnpackOptions): Uint8Array {
    return o.dictionary ? this.dict(o.dictionary).unpack(frame, o.maxOutput) : this.core.codec.unpack(frame, o.maxOutput);
  }

  decodeRaw(algorithm: Algorithm, data: Uint8Array, o: UnpackOptions): Uint8Array {
    if (o.dictionary && algorithm === 'zstd') return this.dict(o.dictionary).decodeRaw(data, o.maxOutput);
    return this.core.codec.decodeRaw(algorithm, data, o.maxOutput);
  }
}

/** `native()` is the native engine, or undefined for none; it may load the engine on its first call. */
function facade(component: ComponentEngine, native: () => NativeEngine | undefined): EdgeCodec {
  return {
    get engine() {
      return native() ? 'native' : 'component';
    },
    pack: (data, o) => {
      if (o.dictionary && o.algorithm !== 'zstd') {
        throw new CoreError('dictionary-unsupported', `Algorithm "${o.algorithm}" cannot use a dictionary; use zstd.`, o.algorithm);
      }
      const engine = native();
      return engine ? engine.pack(data, o.algorithm, o.level, o.dictionary) : component.pack(data, o);
    },
    unpack: (frame, o) => native()?.unpack(frame, o.maxOutput, o.dictionary) ?? component.unpack(frame, o),
    inspect: (frame) => readHeader(frame, Number.MAX_SAFE_INTEGER),
    decodeRaw: (algorithm, data, o) => native()?.decodeRaw(algorithm, data, o.maxOutput, o.dictionary) ?? component.decodeRaw(algorithm, data, o),
    trainDictionary: (samples, maxSize = 16 * 1024) => new CodecDictionary(component.core.codec.trainDictionary(samples, maxSize).toBytes()),
    loadDictionary: (bytes) => {
      const dictionary = new CodecDictionary(bytes);
      component.dict(dictionary); // validates the tables now, not at first use
      return dictionary;
    },
  };
}

/**
 * Creates the codec. The component always loads (it trains dictionaries and
 * bounds what native cannot). With 'auto', zstd-napi and lz4-napi load on the
 * codec's first use, not here (~5.5 MB and 6-17 ms, measured alone, that a
 * gateway whose queue never packs a payload does not pay at start).
 */
export async function createCodec(options: CreateCodecOptions = {}): Promise<EdgeCodec> {
  const component = new ComponentEngine(options.core ?? (await loadCore()));
  const wanted = options.engine ?? 'auto';
  if (wanted === 'component') return facade(component, () => undefined);
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  const loadNativeEngine = isNode ? (await import('./native.js')).loadNativeEngine : () => undefined;
  if (wanted === 'native') {
    const native = loadNativeEngine();
    if (!native) throw new Error('The native codec engine needs zstd-napi and lz4-napi: run `npm install` (they are optional dependencies).');
    return facade(component, () => native);
  }
  let native: NativeEngine | undefined | null = null;
  return facade(component, () => (native === null ? (native = loadNativeEngine()) : native));
}
