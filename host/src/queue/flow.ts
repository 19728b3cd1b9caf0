// How many calls go to one destination at once (its window), and how fast the
// loop goes back for more (pacing).
//
// A destination is either `ordered` (strict order: one call at a time, the
// next sent only when the previous one is settled, whatever the window says:
// two HTTP requests in flight may run in either order at the destination) or
// unordered, where up to `window` calls are in flight over keep-alive
// connections. The unordered window adapts: it halves when the link fails or
// when calls get much slower than the fastest this destination has answered
// (the destination is loaded: back off before it times out), and grows again
// while calls come back fast. Retries never reorder an ordered destination:
// its batch stops at the first failure and the rest wait behind it.
//
// Pacing is the knob for the power mode: how often the loop looks by itself,
// a pause before new calls are sent (so they gather into fewer, larger
// wake-ups), and a cap on the window (fewer sockets and less CPU at once).

/** What the delivery loop is told about one destination. */
export interface FlowSettings {
  /** Most calls in flight; the adaptive window stays at or below it. */
  window: number;
  /** Strict order: one call at a time, whatever the window. */
  ordered: boolean;
  /** Several calls per exchange (a JSON-RPC batch) where the destination takes them. */
  batch: boolean;
}

/**
 * The one pacing knob (OfflineQueue.setDeliveryPacing; the power mode sets
 * it, power/gateway-power.ts). Full speed is fullSpeed(queue.tickMs).
 */
export interface DeliveryPacing {
  /** How often the loop looks by itself for due work (retries after a backoff, expiries), ms; 0: never (asleep: an enqueue still kicks it). */
  tickMs: number;
  /** Wait this long after an enqueue before sending, ms, so new calls gather and go together; 0: at once. A backlog, once sending, goes straight on. */
  pauseMs: number;
  /** Cap on every destination's window (0: no cap). */
  maxWindow: number;
}

/** No pause, no cap, the loop's own period. */
export function fullSpeed(tickMs: number): DeliveryPacing {
  return { tickMs, pauseMs: 0, maxWindow: 0 };
}

/** A window starts here (or at its ceiling, if lower) and grows while calls come back fast. */
const START_WINDOW = 8;
/** Calls this many times slower than the fastest seen mean the destination is loaded. */
const SLOW_FACTOR = 8;
/** ...unless they are still this fast (a busy but quick destination is fine), ms. */
const SLOW_FLOOR_MS = 50;
/** The fastest-seen latency creeps up by this factor per batch, so a lasting change of pace is learnt. */
const BASELINE_DRIFT = 1.05;

/** One destination's adaptive window. */
export class FlowWindow {
  private current: number;
  private fastestMs: number | undefined;
  /** Times the window was halved (link failure or a slow destination). */
  shrinks = 0;

  constructor(private readonly settings: FlowSettings) {
    this.current = settings.ordered ? 1 : Math.min(settings.window, START_WINDOW);
  }

  get ordered(): boolean {
    return this.settings.ordered;
  }

  /** Whether its calls may travel in JSON-RPC batches (unordered and allowed). */
  get batched(): boolean {
    return this.settings.batch && !this.settings.ordered;
  }

  /** Calls to keep in flight now, under the pacing cap. */
  size(pacing: DeliveryPacing): number {
    if (this.settings.ordered) return 1;
    return pacing.maxWindow > 0 ? Math.min(this.current, pacing.maxWindow) : this.current;
  }

  /** After a batch: whether the link failed, and the mean time of the calls answered (ms). */
  update(failed: boolean, meanMs: number | undefined): void {
    if (this.settings.ordered) return;
    if (failed) return this.shrink();
    if (meanMs === undefined) return;
    const fastest = this.fastestMs === undefined ? meanMs : Math.min(meanMs, this.fastestMs * BASELINE_DRIFT);
    this.fastestMs = fastest;
    if (meanMs > SLOW_FLOOR_MS && meanMs > fastest * SLOW_FACTOR) return this.shrink();
    this.current = Math.min(this.settings.window, this.current + Math.max(1, this.current >> 2));
  }

  private shrink(): void {
    this.current = Math.max(1, this.current >> 1);
    this.shrinks += 1;
  }
}
