// A direct lane into the core module for the codec's two hottest calls,
// `pack` and `unpack`. jco's generated bindings wrap every synchronous call
// in component-model task bookkeeping (a task object, ids, a completion
// promise): about 1.5 us per call, a fifth of unpacking a 1 KB message. Here
// the same exports are called with the canonical ABI by hand, on the success
// path only: when the core answers with an error, the caller repeats the call
// through jco, which lifts the error into its typed form. Test
// `test/codec-direct.test.ts` holds both lanes to the same bytes.
//
// What the hand-written half relies on (wit/codec.wit, canonical ABI):
// - a list<u8> argument is (pointer, length) in memory the callee owns,
//   allocated with `cabi_realloc`;
// - `result<list<u8>, codec-error>` comes back through a return area: a u8
//   tag at +0 (0 = ok) and, 8-aligned because codec-error holds a u64, the
//   list's pointer at +8 and length at +12; `cabi_post_*` frees it after.

import { OutputPool } from './output-pool.js';

const UNPACK = 'mcp-edge:core/codec@0.1.0#unpack';
const PACK = 'mcp-edge:core/codec@0.1.0#pack';
const ALGORITHM_CODES = { stored: 0, zstd: 1, lz4: 2 } as const;

type CoreFn = (...args: (number | bigint)[]) => number;

interface CoreExports {
  memory: WebAssembly.Memory;
  cabi_realloc: (oldPtr: number, oldLen: number, align: number, len: number) => number;
  [name: string]: unknown;
}

/** Records the core instance that exports the codec while jco instantiates the component. */
export function coreInstanceRecorder(): {
  instantiateCore: (module: WebAssembly.Module, imports: WebAssembly.Imports) => Promise<WebAssembly.Instance>;
  exports: () => CoreExports | undefined;
} {
  let found: CoreExports | undefined;
  return {
    instantiateCore: async (module, imports) => {
      const instance = await WebAssembly.instantiate(module, imports);
      if (UNPACK in instance.exports && PACK in instance.exports) found = instance.exports as unknown as CoreExports;
      return instance;
    },
    exports: () => found,
  };
}

export class DirectCodec {
  private readonly unpackFn: CoreFn;
  private readonly unpackPost: (ret: number) => void;
  private readonly packFn: CoreFn;
  private readonly packPost: (ret: number) => void;
  private readonly outputs = new OutputPool();
  private view: DataView;

  private constructor(private readonly core: CoreExports) {
    this.view = new DataView(core.memory.buffer);
    this.unpackFn = core[UNPACK] as CoreFn;
    this.unpackPost = core[`cabi_post_${UNPACK}`] as (ret: number) => void;
    this.packFn = core[PACK] as CoreFn;
    this.packPost = core[`cabi_post_${PACK}`] as (ret: number) => void;
  }

  /** A direct lane over `core`, or undefined when its exports are not the shape this file knows. */
  static over(core: CoreExports | undefined): DirectCodec | undefined {
    if (!core || !(core.memory instanceof WebAssembly.Memory) || typeof core.cabi_realloc !== 'function') return undefined;
    const needed = [UNPACK, PACK, `cabi_post_${UNPACK}`, `cabi_post_${PACK}`];
    return needed.every((name) => typeof core[name] === 'function') ? new DirectCodec(core) : undefined;
  }

  /** The unpacked bytes, or undefined when the core refused (ask jco for the typed error). */
  /** `maxOutput` comes checked from the facade (codec.ts `limit`). */
  unpack(frame: Uint8Array, maxOutput: bigint): Uint8Array | undefined {
    const ptr = this.lower(frame);
    return this.lift(this.unpackFn(ptr, frame.length, maxOutput), this.unpackPost);
  }

  /** The packed frame, or undefined when the core refused (ask jco for the typed error). */
  pack(data: Uint8Array, algorithm: string, level: number | undefined | null): Uint8Array | undefined {
    const code = ALGORITHM_CODES[algorithm as keyof typeof ALGORITHM_CODES];
    if (code === undefined || (level != null && !(Number.isInteger(level) && Math.abs(level) < 2 ** 31))) return undefined;
    const ptr = this.lower(data);
    const hasLevel = level == null ? 0 : 1;
    return this.lift(this.packFn(ptr, data.length, code, hasLevel, level ?? 0), this.packPost);
  }

  /** Copies `bytes` into memory the core takes ownership of. */
  private lower(bytes: Uint8Array): number {
    const ptr = this.core.cabi_realloc(0, 0, 1, bytes.length);
    new Uint8Array(this.core.memory.buffer, ptr, bytes.length).set(bytes);
    return ptr;
  }

  /** Reads an ok list<u8> out of the return area (a copy, see output-pool.ts), then lets the core free it. */
  private lift(ret: number, post: (ret: number) => void): Uint8Array | undefined {
    const buffer = this.core.memory.buffer;
    // The view is kept between calls; memory.grow replaces the buffer, and then the view.
    if (this.view.buffer !== buffer) this.view = new DataView(buffer);
    let out: Uint8Array | undefined;
    if (this.view.getUint8(ret) === 0) {
      const ptr = this.view.getUint32(ret + 8, true);
      out = this.outputs.copy(new Uint8Array(buffer, ptr, this.view.getUint32(ret + 12, true)));
    }
    post(ret);
    return out;
  }
}
