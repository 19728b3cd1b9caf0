// Types for the benchmark's baselines that ship none: only what the bench calls.

declare module 'lz4js' {
  /** Compresses into an LZ4 frame. */
  export function compress(data: Uint8Array): Uint8Array;
  /** Decompresses an LZ4 frame. */
  export function decompress(data: Uint8Array): Uint8Array;
}

declare module 'zstd-codec' {
  interface ZstdSimple {
    compress(data: Uint8Array, level?: number): Uint8Array;
    decompress(data: Uint8Array): Uint8Array;
  }
  interface ZstdBinding {
    Simple: new () => ZstdSimple;
  }
  export const ZstdCodec: {
    /** Loads the emscripten module, then calls `ready` with its bindings. */
    run(ready: (zstd: ZstdBinding) => void): void;
  };
}
