// A direct lane into the core module for the codec's hottest calls: `pack`
// and `unpack`, free and on a dictionary. jco's generated bindings wrap every
// synchronous call in component-model task bookkeeping (a task object, ids, a
// completion promise): about 1.5 us per call, a fifth of unpacking a 1 KB
// message. Here the same exports are called with the canonical ABI by hand,
// on the success path only: when the core answers with an error, the caller
// repeats the call through jco, which lifts the error into its typed form.
// Test `test/codec-direct.test.ts` holds both lanes to the same bytes.
//
// What the hand-written half relies on (wit/codec.wit, canonical ABI):
// - a list<u8> argument is (pointer, length) in memory the callee owns,
//   allocated with `cabi_realloc`;
// - `result<list<u8>, codec-error>` comes back through a return area: a u8
//   tag at +0 (0 = ok) and, 8-aligned because codec-error holds a u64, the
//   list's pointer at +8 and length at +12; `cabi_post_*` frees it after;
// - a method of a resource the component exports takes the resource's rep
//   (the component's own pointer to it) as its first argument. jco keeps the
//   rep in a private handle table, so the recorder below gives jco a copy of
//   the exports whose `[method]dictionary.id` notes the rep it is called with.
//
// The router's per-call pair (`begin`, `record-result`) takes the same lane
// (direct-router.ts): the recorder also notes the rep `[method]router.begin`
// is called with, which tells the lane which router a facade drives.

import { OutputPool } from './output-pool.js';

const CODEC = 'mcp-edge:core/codec@0.1.0#';
const UNPACK = `${CODEC}unpack`;
const PACK = `${CODEC}pack`;
const DICT_UNPACK = `${CODEC}[method]dictionary.unpack`;
const DICT_PACK = `${CODEC}[method]dictionary.pack`;
const DICT_ID = `${CODEC}[method]dictionary.id`;
const ALGORITHM_CODES = { stored: 0, zstd: 1, lz4: 2 } as const;

export type CoreFn = (...args: (number | bigint)[]) => number;
/** A core export and the post-return function that frees what it returned. */
interface Call {
  fn: CoreFn;
  post: (ret: number) => void;
}

export interface CoreExports {
  memory: WebAssembly.Memory;
  cabi_realloc: (oldPtr: number, oldLen: number, align: number, len: number) => number;
  [name: string]: unknown;
}

/** What jco's instantiation left for the direct lane: the codec's core exports and a rep probe. */
export interface CoreRecord {
  exports: CoreExports;
  /** The rep behind a dictionary: calls `readId` (jco's `id()`), which passes through the probe. */
  repOf: (readId: () => unknown) => number | undefined;
}

/** The core instance that exports the router, and the rep its jco `begin` passes (direct-router.ts). */
export interface RouterRecord {
  exports: CoreExports;
  /** The rep of the router that `begin` (a jco call of `[method]router.begin`) runs on. */
  repOf: (begin: () => unknown) => number | undefined;
}

export const ROUTER_BEGIN = 'mcp-edge:core/router@0.1.0#[method]router.begin';

/** Records the core instance that exports the codec while jco instantiates the component. */
export function coreInstanceRecorder(): {
  instantiateCore: (module: WebAssembly.Module, imports: WebAssembly.Imports) => Promise<WebAssembly.Instance>;
  record: () => CoreRecord | undefined;
  recordRouter: () => RouterRecord | undefined;
} {
  let found: CoreExports | undefined;
  let routerCore: CoreExports | undefined;
  let lastRep: number | undefined;
  const repOf = (call: () => unknown) => {
    lastRep = undefined;
    call();
    return lastRep;
  };
  /** `fn`, noting the rep (its first argument) of every call. */
  const probing = (fn: CoreFn): CoreFn => (rep, ...rest) => {
    lastRep = rep as number;
    return fn(rep, ...rest);
  };
  return {
    instantiateCore: async (module, imports) => {
      const instance = await WebAssembly.instantiate(module, imports);
      const exports = instance.exports as unknown as CoreExports;
      const probes: Record<string, CoreFn> = {};
      if (UNPACK in exports && PACK in exports) {
        found = exports;
        if (typeof exports[DICT_ID] === 'function') probes[DICT_ID] = probing(exports[DICT_ID] as CoreFn);
      }
      if (typeof exports[ROUTER_BEGIN] === 'function') {
        routerCore = exports;
        probes[ROUTER_BEGIN] = probing(exports[ROUTER_BEGIN] as CoreFn);
      }
      if (Object.keys(probes).length === 0) return instance;
      // jco reads only `exports` from what this returns.
      return { exports: { ...instance.exports, ...probes } } as unknown as WebAssembly.Instance;
    },
    record: () => (found ? { exports: found, repOf } : undefined),
    recordRouter: () => (routerCore ? { exports: routerCore, repOf } : undefined),
  };
}

/** Direct pack and unpack on one dictionary; undefined means "ask jco" (see DirectCodec). */
export interface DirectDictionary {
  pack(data: Uint8Array, level: number | undefined | null): Uint8Array | undefined;
  unpack(frame: Uint8Array, maxOutput: bigint): Uint8Array | undefined;
}

/** A level the canonical ABI can carry as an option<s32>; anything else goes to jco for its error. */
const carriesLevel = (level: number | undefined | null) => level == null || (Number.isInteger(level) && Math.abs(level) < 2 ** 31);

export class DirectCodec {
  private readonly outputs = new OutputPool();
  private view: DataView;
  private readonly unpackCall: Call;
  private readonly packCall: Call;
  private readonly dictUnpackCall: Call;
  private readonly dictPackCall: Call;

  private constructor(
    private readonly core: CoreExports,
    private readonly repOf: CoreRecord['repOf'],
  ) {
    this.view = new DataView(core.memory.buffer);
    const call = (name: string) => ({ fn: core[name] as CoreFn, post: core[`cabi_post_${name}`] as Call['post'] });
    this.unpackCall = call(UNPACK);
    this.packCall = call(PACK);
    this.dictUnpackCall = call(DICT_UNPACK);
    this.dictPackCall = call(DICT_PACK);
  }

  /** A direct lane over the recorded core, or undefined when its exports are not the shape this file knows. */
  static over(record: CoreRecord | undefined): DirectCodec | undefined {
    const core = record?.exports;
    if (!core || !(core.memory instanceof WebAssembly.Memory) || typeof core.cabi_realloc !== 'function') return undefined;
    const needed = [UNPACK, PACK, DICT_UNPACK, DICT_PACK].flatMap((name) => [name, `cabi_post_${name}`]);
    return needed.every((name) => typeof core[name] === 'function') ? new DirectCodec(core, record.repOf) : undefined;
  }

  /** The unpacked bytes, or undefined when the core refused (ask jco for the typed error). */
  /** `maxOutput` comes checked from the facade (codec.ts `limit`). */
  unpack(frame: Uint8Array, maxOutput: bigint): Uint8Array | undefined {
    const ptr = this.lower(frame);
    return this.lift(this.unpackCall, this.unpackCall.fn(ptr, frame.length, maxOutput));
  }

  /** The packed frame, or undefined when the core refused (ask jco for the typed error). */
  pack(data: Uint8Array, algorithm: string, level: number | undefined | null): Uint8Array | undefined {
    const code = ALGORITHM_CODES[algorithm as keyof typeof ALGORITHM_CODES];
    if (code === undefined || !carriesLevel(level)) return undefined;
    const ptr = this.lower(data);
    return this.lift(this.packCall, this.packCall.fn(ptr, data.length, code, level == null ? 0 : 1, level ?? 0));
  }

  /** The lane for one dictionary, found through jco's `id()`; undefined when its rep cannot be seen. */
  dictionary(readId: () => number): DirectDictionary | undefined {
    let id: number | undefined;
    const rep = this.repOf(() => (id = readId()));
    // The rep must answer to the dictionary's own id; if a jco update ever passed
    // something else, the dictionary stays on jco instead of the lane guessing.
    if (rep === undefined || (this.core[DICT_ID] as CoreFn)(rep) >>> 0 !== id) return undefined;
    return {
      pack: (data, level) => {
        if (!carriesLevel(level)) return undefined;
        const ptr = this.lower(data);
        return this.lift(this.dictPackCall, this.dictPackCall.fn(rep, ptr, data.length, level == null ? 0 : 1, level ?? 0));
      },
      unpack: (frame, maxOutput) => {
        const ptr = this.lower(frame);
        return this.lift(this.dictUnpackCall, this.dictUnpackCall.fn(rep, ptr, frame.length, maxOutput));
      },
    };
  }

  /** Copies `bytes` into memory the core takes ownership of. */
  private lower(bytes: Uint8Array): number {
    const ptr = this.core.cabi_realloc(0, 0, 1, bytes.length);
    new Uint8Array(this.core.memory.buffer, ptr, bytes.length).set(bytes);
    return ptr;
  }

  /** Reads an ok list<u8> out of the return area (a copy, see output-pool.ts), then lets the core free it. */
  private lift(call: Call, ret: number): Uint8Array | undefined {
    const buffer = this.core.memory.buffer;
    // The view is kept between calls; memory.grow replaces the buffer, and then the view.
    if (this.view.buffer !== buffer) this.view = new DataView(buffer);
    let out: Uint8Array | undefined;
    if (this.view.getUint8(ret) === 0) {
      const ptr = this.view.getUint32(ret + 8, true);
      out = this.outputs.copy(new Uint8Array(buffer, ptr, this.view.getUint32(ret + 12, true)));
    }
    call.post(ret);
    return out;
  }
}
