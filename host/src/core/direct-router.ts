// The router's per-call pair on the direct lane (see direct.ts): `begin` and
// `record-result` run once each for every routed tools/call, and jco's task
// bookkeeping around them (a task object, ids, a completion promise, the
// current-task meta) cost more than the routing itself: about 8% of the
// gateway's CPU per call under bench/gateway load, the wasm a tenth of it.
// Here they are called with the canonical ABI by hand, on the success path
// only; a refusal (an unknown tool or provider) is asked again of jco, which
// lifts the typed error. Neither call changes the table before it refuses
// (crates/edge-core/src/router/mod.rs checks first), so asking twice is safe.
// test/router-direct.test.ts holds both lanes to the same rankings and errors.
//
// What this relies on (wit/router.wit, canonical ABI, wasm32):
// - `[method]router.begin(rep, tool: u32, now-ms: u64)` returns a pointer to a
//   return area: a u8 tag at +0 (0 = ok), the list's pointer at +4 and length
//   (in u32s, little-endian, 4-aligned) at +8; `cabi_post_…begin` frees it after;
// - `[method]router.record-result(rep, tool, provider, latency: f64,
//   outcome: enum index, now-ms: u64)` returns a u8 tag at +0 and needs no
//   post-return (its error cases carry no string);
// - the rep is what jco passes as the first argument of `begin` (the probe in
//   coreInstanceRecorder notes it on this router's first, jco-made, begin).
import { ROUTER_BEGIN, type CoreExports, type CoreFn, type RouterRecord } from './direct.js';

const RECORD_RESULT = 'mcp-edge:core/router@0.1.0#[method]router.record-result';
const POST_BEGIN = `cabi_post_${ROUTER_BEGIN}`;
const OUTCOME_CODES = { ok: 0, error: 1, timeout: 2 } as const;

/** One router's calls on the lane; undefined / false means "ask jco" (for the typed error). */
export interface RouterLane {
  begin(tool: number, nowMs: bigint): number[] | undefined;
  recordResult(tool: number, provider: number, latencyMs: number, outcome: keyof typeof OUTCOME_CODES, nowMs: bigint): boolean;
}

const isU32 = (n: number) => n >>> 0 === n;

export class DirectRouter {
  private view: DataView;
  private readonly beginFn: CoreFn;
  private readonly postBegin: (ret: number) => void;
  private readonly recordResultFn: CoreFn;

  private constructor(
    private readonly core: CoreExports,
    /** The rep a jco `begin` runs on (coreInstanceRecorder's probe). */
    readonly repOf: RouterRecord['repOf'],
  ) {
    this.view = new DataView(core.memory.buffer);
    this.beginFn = core[ROUTER_BEGIN] as CoreFn;
    this.postBegin = core[POST_BEGIN] as (ret: number) => void;
    this.recordResultFn = core[RECORD_RESULT] as CoreFn;
  }

  /** The lane over the recorded core, or undefined when its exports are not the shape this file knows. */
  static over(record: RouterRecord | undefined): DirectRouter | undefined {
    const core = record?.exports;
    if (!core || !(core.memory instanceof WebAssembly.Memory)) return undefined;
    const needed = [ROUTER_BEGIN, POST_BEGIN, RECORD_RESULT];
    return needed.every((name) => typeof core[name] === 'function') ? new DirectRouter(core, record.repOf) : undefined;
  }

  /** The calls of the router whose rep is `rep`. */
  lane(rep: number): RouterLane {
    return {
      begin: (tool, nowMs) => (isU32(tool) ? this.begin(rep, tool, nowMs) : undefined),
      recordResult: (tool, provider, latencyMs, outcome, nowMs) => {
        const code = OUTCOME_CODES[outcome];
        if (code === undefined || !isU32(tool) || !isU32(provider)) return false;
        const ret = this.recordResultFn(rep, tool, provider, +latencyMs, code, nowMs);
        return this.memory().getUint8(ret) === 0;
      },
    };
  }

  /** The ranked replicas as a plain array: a fresh ArrayBuffer per call (jco's copy) cost more than reading one or two u32s. */
  private begin(rep: number, tool: number, nowMs: bigint): number[] | undefined {
    const ret = this.beginFn(rep, tool, nowMs);
    const view = this.memory();
    let order: number[] | undefined;
    if (view.getUint8(ret) === 0) {
      const ptr = view.getUint32(ret + 4, true);
      const len = view.getUint32(ret + 8, true);
      order = new Array<number>(len);
      for (let i = 0; i < len; i++) order[i] = view.getUint32(ptr + i * 4, true);
    }
    this.postBegin(ret);
    return order;
  }

  /** A view of the core's memory; memory.grow replaces the buffer, and then the view. */
  private memory(): DataView {
    const buffer = this.core.memory.buffer;
    if (this.view.buffer !== buffer) this.view = new DataView(buffer);
    return this.view;
  }
}
