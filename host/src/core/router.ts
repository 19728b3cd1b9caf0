// Typed facade over the component's `router` interface: replicas ranked by the
// core from live statistics. The per-call path crosses the boundary with
// numbers only (tool and provider handles, times, latencies).
import type { Root } from './generated/edge-core.js';
import { callCore } from './errors.js';
import type { DirectRouter, RouterLane } from './direct-router.js';

type RouterExports = Root['router'];
type RawRouter = RouterExports['Router']['prototype'];

export type Outcome = 'ok' | 'error' | 'timeout';
export type CircuitState = 'closed' | 'open' | 'half-open';
export type PowerMode = 'normal' | 'saver';

export interface RouterOptions {
  latencyAlpha?: number;
  errorAlpha?: number;
  priorLatencyMs?: number;
  costWeightMs?: number;
  saverWeightMs?: number;
  failureThreshold?: number;
  openMs?: number;
  maxOpenMs?: number;
}

export interface ProviderWeights {
  /** Added to the provider's latency (ms): how far away it is considered. */
  localityMs: number;
  /** Relative price of one call. */
  cost: number;
  /** Relative energy of one call; counts in power-saver mode. */
  energy: number;
}

export interface ProviderRouteStats {
  circuit: CircuitState;
  available: boolean;
  inFlight: number;
  errorRate: number;
  latencyMs?: number;
  calls: number;
  failures: number;
}

/** The core's routing table; handles are small integers the host maps to names. */
export interface CoreRouter {
  addProvider(weights: ProviderWeights): number;
  setWeights(provider: number, weights: ProviderWeights): void;
  setAvailable(provider: number, available: boolean): void;
  setPowerMode(mode: PowerMode): void;
  addTool(providers: readonly number[]): number;
  setReplicas(tool: number, providers: readonly number[]): void;
  /** The replicas of `tool` that rank ahead of the others (offload: remote before local); empty: by score alone. */
  setPreferred(tool: number, providers: readonly number[]): void;
  removeTool(tool: number): void;
  /** Replicas that may serve `tool` now, best first; empty when none can. */
  select(tool: number, nowMs?: number): Uint32Array;
  /** select, then recordStart on the first replica returned (one crossing per routed call); best first. */
  begin(tool: number, nowMs?: number): readonly number[];
  recordStart(tool: number, provider: number, nowMs?: number): void;
  recordResult(tool: number, provider: number, latencyMs: number, outcome: Outcome, nowMs?: number): void;
  stats(provider: number, nowMs?: number): ProviderRouteStats;
}

function describe(error: { tag: string; val?: unknown }): string {
  switch (error.tag) {
    case 'unknown-provider':
      return `The router has no provider with handle ${String(error.val)}.`;
    case 'unknown-tool':
      return `The router has no tool with handle ${String(error.val)}.`;
    case 'invalid-weights':
      return 'Provider weights (locality_ms, cost, energy) must be finite and non-negative.';
    case 'invalid-options':
      return `Invalid router options: ${String(error.val)}.`;
    default:
      return `router error: ${error.tag}`;
  }
}

const now = (t?: number): bigint => BigInt(Math.floor(t ?? Date.now()));

/**
 * `begin` and `recordResult` on the direct lane (direct-router.ts) once this
 * router's first `begin` through jco has shown its rep; anything the lane
 * cannot answer goes to jco. A trap on the lane (a bug) drops it.
 */
function perCallPair(raw: RawRouter, direct: DirectRouter | undefined): Pick<CoreRouter, 'begin' | 'recordResult'> {
  let lane: RouterLane | undefined;
  const jcoBegin = (t: number, at: bigint): number[] => Array.from(callCore(() => raw.begin(t, at), describe));
  const onLane = <T>(run: (l: RouterLane) => T): T => {
    try {
      return run(lane!);
    } catch (err) {
      lane = undefined;
      direct = undefined;
      throw err;
    }
  };
  return {
    begin: (t, nowMs) => {
      const at = now(nowMs);
      if (lane) return onLane((l) => l.begin(t, at)) ?? jcoBegin(t, at);
      if (!direct) return jcoBegin(t, at);
      let order: readonly number[] | undefined;
      const rep = direct.repOf(() => (order = jcoBegin(t, at)));
      if (rep !== undefined) lane = direct.lane(rep);
      return order!;
    },
    recordResult: (t, p, latency, outcome, nowMs) => {
      const at = now(nowMs);
      if (lane && onLane((l) => l.recordResult(t, p, latency, outcome, at))) return;
      callCore(() => raw.recordResult(t, p, latency, outcome, at), describe);
    },
  };
}

function wrap(raw: RawRouter, direct: DirectRouter | undefined): CoreRouter {
  return {
    ...perCallPair(raw, direct),
    addProvider: (w) => callCore(() => raw.addProvider(w), describe),
    setWeights: (p, w) => callCore(() => raw.setWeights(p, w), describe),
    setAvailable: (p, a) => callCore(() => raw.setAvailable(p, a), describe),
    setPowerMode: (mode) => raw.setPowerMode(mode),
    addTool: (providers) => callCore(() => raw.addTool(Uint32Array.from(providers)), describe),
    setReplicas: (t, providers) => callCore(() => raw.setReplicas(t, Uint32Array.from(providers)), describe),
    setPreferred: (t, providers) => callCore(() => raw.setPreferred(t, Uint32Array.from(providers)), describe),
    removeTool: (t) => callCore(() => raw.removeTool(t), describe),
    select: (t, nowMs) => callCore(() => raw.select(t, now(nowMs)), describe),
    recordStart: (t, p, nowMs) => callCore(() => raw.recordStart(t, p, now(nowMs)), describe),
    stats: (p, nowMs) => {
      const s = callCore(() => raw.stats(p, now(nowMs)), describe);
      return { ...s, calls: Number(s.calls), failures: Number(s.failures) };
    },
  };
}

/**
 * Creates a router in the core; options out of range throw CoreError("invalid-options").
 * `direct`: the lane for the per-call pair (direct-router.ts); absent, every call goes through jco.
 */
export function createRouterFactory(exports: RouterExports, direct?: DirectRouter): (options?: RouterOptions) => CoreRouter {
  return (options = {}) => {
    const { openMs, maxOpenMs, ...rest } = options;
    const raw = callCore(
      () =>
        exports.Router.create({
          ...rest,
          ...(openMs !== undefined ? { openMs: BigInt(openMs) } : {}),
          ...(maxOpenMs !== undefined ? { maxOpenMs: BigInt(maxOpenMs) } : {}),
        }),
      describe,
    );
    return wrap(raw, direct);
  };
}
