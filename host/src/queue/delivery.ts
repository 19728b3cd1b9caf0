// The delivery loop: expires what outlived its TTL, asks the core for due
// batches, delivers them in order (one batch per destination at a time,
// destinations in parallel) with each call's idempotency key, and records
// each outcome in one transaction. A link failure leaves the rest queued; the
// core decides when to try again (exponential backoff with seeded jitter).
import { setMaxListeners } from 'node:events';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Batch } from '../core/queue.js';
import { FlowWindow, type DeliveryPacing, type FlowSettings } from './flow.js';
import { endTask, type QueueParts } from './parts.js';
import { decodeJson, errorResult } from './payload.js';
import type { RowState } from './store.js';

export interface DeliveryCall {
  tool: string;
  arguments: Record<string, unknown>;
  /** Globally unique per call; the destination answers a repeat with the first result. */
  idempotencyKey: string;
}

/** Sends one call. Throw DestinationError for an answer that is final; anything else is a link failure. */
export type Deliverer = (destination: string, call: DeliveryCall, signal: AbortSignal) => Promise<CallToolResult>;

/**
 * Sends several calls to one destination in one exchange (a JSON-RPC batch):
 * one answer per call, in order (a result, a DestinationError, or an Error
 * when that call's link failed), or null when the destination takes no
 * batches (nothing was run; the loop then sends one by one). Throws when the
 * whole exchange failed (a link failure for every call in it).
 */
export type BatchDeliverer = (destination: string, calls: readonly DeliveryCall[], signal: AbortSignal) => Promise<(CallToolResult | Error)[] | null>;

/** Calls per JSON-RPC batch: big enough that one POST carries many, small enough that a window splits into several. */
const CHUNK_CALLS = 32;

/** The destination answered with an error: the call is done (failed); retrying cannot help. */
export class DestinationError extends Error {
  override readonly name = 'DestinationError';
}

/**
 * The destination's answer to a chunk of calls was too large to take as one
 * (bounded-body.ts): those calls go one by one, this time only. Each has its
 * idempotency key, so a destination that ran them answers from its record.
 */
export class ChunkTooLarge extends Error {
  override readonly name = 'ChunkTooLarge';
}

/** A link failure whose destination said when to come back (an HTTP Retry-After): the next attempt waits that long, not the backoff. */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
  constructor(
    message: string,
    /** The asked wait in ms; the core caps it at the backoff's longest wait (offline.sync_interval_seconds). */
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export interface DeliveryReport {
  delivered: number;
  failed: number;
  /** Destinations whose link failed in this round. */
  unreachable: string[];
}

/** How delivery to one destination went last. */
export interface DestinationRecord {
  /** When a batch last went out without a link failure. */
  lastDeliveryMs: number | null;
  lastError: string | null;
  lastErrorMs: number | null;
  /** Calls it may have in flight now (the adaptive window, 1 when ordered). */
  window: number;
  /** Times its window was halved (link failure, or a slow destination). */
  windowShrinks: number;
}

/** What the delivery loop has done since start, for status (and tests). */
export interface DeliveryRecord {
  /** Rounds run. */
  readonly rounds: number;
  readonly lastDeliveryMs: number | null;
  readonly lastError: string | null;
  readonly destinations: ReadonlyMap<string, Readonly<DestinationRecord>>;
}

/** The record as the loop writes it. */
interface RecordState {
  rounds: number;
  lastDeliveryMs: number | null;
  lastError: string | null;
  destinations: Map<string, DestinationRecord>;
}

export interface DeliveryOptions {
  /** Calls per batch and destination. */
  batchItems: number;
  /** How often the loop looks for due work, ms. */
  tickMs: number;
  /** How many calls in flight, and whether in strict order, per destination (flow.ts). */
  flowOf: (destination: string) => FlowSettings;
  /** Most calls in flight over all destinations (sizes the abort signal's listener limit). */
  maxInFlight: number;
  /** Sends several calls in one exchange, where the destination takes batches. */
  deliverMany?: BatchDeliverer;
}

interface Outcome {
  id: number;
  state: Exclude<RowState, 'queued'>;
  result: CallToolResult;
  message: string | null;
  /** Left the queue without delivery (unreadable payload). */
  dropped?: boolean;
}

const PRUNE_EVERY_MS = 60_000;

/**
 * The key a call travels with: the sender's persistent id, then the client's
 * key after ':', or, for a call without one, its task id after '/'. The
 * sender id is a UUID (fixed length, neither character), so the two kinds
 * never collide, whatever key a client picks.
 */
export function deliveryKey(senderId: string, row: { id: number; idem_key: string; client_key: number; secret: string }): string {
  return row.client_key === 0 && row.idem_key === '' ? `${senderId}/${row.id}.${row.secret}` : `${senderId}:${row.idem_key}`;
}
const EXPIRE_PAGE = 10_000;

export class Delivery {
  private readonly state: RecordState = { rounds: 0, lastDeliveryMs: null, lastError: null, destinations: new Map() };
  private timer: NodeJS.Timeout | undefined;
  private readonly active = new Set<Promise<DeliveryReport>>();
  private readonly abort = new AbortController();
  private kicked = false;
  /** When each destination that failed may be tried again (the core's decision, as last settled). */
  private readonly dueAt = new Map<string, number>();
  private lastPruneMs = 0;
  private readonly windows = new Map<string, FlowWindow>();
  /** Destinations that refused a batch: their calls go one by one. */
  private readonly unbatched = new Set<string>();
  private pacing: DeliveryPacing;
  /** A kick waiting out the pacing's pause (set while `kicked` is, unless the kick runs at the next turn). */
  private paced: NodeJS.Timeout | undefined;

  constructor(
    private readonly parts: QueueParts,
    /** This gateway's persistent id; namespaces the idempotency keys it sends. */
    private readonly senderId: string,
    private readonly deliver: Deliverer,
    private readonly opts: DeliveryOptions,
  ) {
    // Each call in flight links one listener to this signal (removed when it ends).
    setMaxListeners(Math.max(10, opts.maxInFlight * 4), this.abort.signal);
    this.pacing = { tickMs: opts.tickMs, pauseMs: 0, maxWindow: 0 };
  }

  /** The configured period of the loop, ms (full speed's tickMs). */
  get tickMs(): number {
    return this.opts.tickMs;
  }

  /** The pacing in force (setPacing). */
  get currentPacing(): Readonly<DeliveryPacing> {
    return this.pacing;
  }

  /** What the loop has done since start (read-only). */
  get record(): DeliveryRecord {
    return this.state;
  }

  start(): void {
    this.startTimer();
    this.kick();
  }

  private startTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.pacing.tickMs === 0 || this.abort.signal.aborted) return;
    this.timer = setInterval(() => void this.round(), this.pacing.tickMs);
    this.timer.unref();
  }

  /**
   * Looks for due work soon (after an enqueue, say); coalesces bursts. Under
   * pacing (the power mode) "soon" is after the pause, so new calls gather
   * and go together.
   */
  kick(): void {
    this.schedule(this.pacing.pauseMs);
  }

  /**
   * A round in `delayMs` (0: at the next turn), unless one is already due no
   * later. A sooner request replaces a later pending one.
   */
  private schedule(delayMs: number): void {
    if (this.abort.signal.aborted) return;
    if (this.kicked && (delayMs > 0 || this.paced === undefined)) return;
    clearTimeout(this.paced);
    this.kicked = true;
    const go = () => {
      this.kicked = false;
      this.paced = undefined;
      void this.round();
    };
    if (delayMs > 0) this.paced = setTimeout(go, delayMs);
    else {
      this.paced = undefined;
      setImmediate(go);
    }
  }

  /**
   * The one pacing knob (flow.ts; the power mode sets it): how often the loop
   * looks by itself, the pause before new calls go, the cap on every window.
   * A kick already waiting takes the new pause.
   */
  setPacing(pacing: DeliveryPacing): void {
    const next = { tickMs: Math.max(0, pacing.tickMs), pauseMs: Math.max(0, pacing.pauseMs), maxWindow: Math.max(0, pacing.maxWindow) };
    const restart = next.tickMs !== this.pacing.tickMs;
    this.pacing = next;
    if (restart) this.startTimer();
    if (this.paced !== undefined) {
      clearTimeout(this.paced);
      this.paced = undefined;
      this.kicked = false;
      this.kick();
    }
  }

  /** Calls `destination` may have in flight now (its window under the pacing's cap). */
  windowNow(destination: string): number {
    return this.windowOf(destination).size(this.pacing);
  }

  /** A destination's adaptive window (made on first use). */
  private windowOf(destination: string): FlowWindow {
    let w = this.windows.get(destination);
    if (!w) this.windows.set(destination, (w = new FlowWindow(this.opts.flowOf(destination))));
    return w;
  }

  /**
   * New calls for these destinations: look for work, unless every one of
   * them is waiting out a backoff (the timer's rounds still look regularly,
   * so a stale wait time delays, never loses, a delivery).
   */
  kickFor(destinations: Iterable<string>): void {
    const now = this.parts.now();
    for (const d of destinations) {
      if ((this.dueAt.get(d) ?? 0) <= now) return this.kick();
    }
  }

  /** The destination may not be tried before `untilMs` (the core's hold); kicks for it wait too. */
  holdUntil(destination: string, untilMs: number): void {
    this.dueAt.set(destination, Math.max(this.dueAt.get(destination) ?? 0, untilMs));
  }

  /** The destination's backoff was lifted (deliver now, link back). */
  forgetWait(destination?: string): void {
    if (destination === undefined) this.dueAt.clear();
    else this.dueAt.delete(destination);
  }

  /** Every destination is due at once (the queue_sync tool); resolves when all sends finish. */
  async deliverNow(maxRounds = 10_000): Promise<DeliveryReport> {
    await Promise.allSettled([...this.active]);
    this.forgetWait();
    this.parts.scheduler.wake(undefined, this.parts.now());
    const total: DeliveryReport = { delivered: 0, failed: 0, unreachable: [] };
    // Round after round until nothing moves (all sent, or every link failed).
    for (let i = 0; i < maxRounds; i++) {
      const r = await this.round();
      await Promise.allSettled([...this.active]);
      total.delivered += r.delivered;
      total.failed += r.failed;
      total.unreachable.push(...r.unreachable.filter((d) => !total.unreachable.includes(d)));
      if (r.delivered + r.failed === 0 || r.unreachable.length > 0) break;
    }
    return total;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.paced);
    this.abort.abort();
    await Promise.allSettled([...this.active]);
  }

  /** One pass: expire, prune now and then, deliver due batches. */
  round(): Promise<DeliveryReport> {
    if (this.abort.signal.aborted) return Promise.resolve({ delivered: 0, failed: 0, unreachable: [] });
    this.state.rounds += 1;
    const p = this.roundInner().finally(() => this.active.delete(p));
    this.active.add(p);
    return p;
  }

  private async roundInner(): Promise<DeliveryReport> {
    try {
      return await this.roundSteps();
    } catch (err) {
      // A broken database must not take the process down: say so and retry next tick.
      this.state.lastError = `delivery round failed: ${(err as Error).message}`;
      this.parts.log.error('offline queue: delivery round failed', { error: (err as Error).message });
      return { delivered: 0, failed: 0, unreachable: [] };
    }
  }

  private async roundSteps(): Promise<DeliveryReport> {
    const now = this.parts.now();
    this.expire(now);
    if (now - this.lastPruneMs >= PRUNE_EVERY_MS) {
      this.lastPruneMs = now;
      this.parts.store.prune(now);
    }
    const batches = this.parts.scheduler.nextBatches(now, this.opts.batchItems, 8 << 20);
    const reports = await Promise.all(batches.map((b) => this.deliverBatch(b)));
    return reports.reduce((a, r) => ({ delivered: a.delivered + r.delivered, failed: a.failed + r.failed, unreachable: [...a.unreachable, ...r.unreachable] }), { delivered: 0, failed: 0, unreachable: [] });
  }

  /** Removes expired calls, marks their tasks failed and says so (never silently). */
  private expire(now: number): void {
    const { store, scheduler, counters, log } = this.parts;
    const gone = scheduler.expire(now, EXPIRE_PAGE);
    if (gone.length === 0) return;
    try {
      store.transaction(() => {
        for (const g of gone) {
          const msg = `expired: not delivered to "${g.destination}" within its time to live`;
          endTask(this.parts, g.id, 'failed', errorResult(msg), msg, now);
        }
      });
      scheduler.commit();
    } catch (err) {
      scheduler.rollback();
      this.state.lastError = `expiring calls failed: ${(err as Error).message}`;
      return;
    }
    counters.expired += gone.length;
    log.warn('offline queue: calls expired before delivery', { count: gone.length, ids: gone.slice(0, 20).map((g) => g.id) });
  }

  /**
   * Sends a batch. With a window of 1 (an ordered destination, or one whose
   * window shrank to 1) calls go strictly in order and the first link
   * failure stops the batch; a wider window keeps that many calls in flight
   * (faster, order not guaranteed: a call after a failed one may land first,
   * and the failed one goes again later under the same idempotency key).
   * Where the destination takes JSON-RPC batches (deliverMany), the calls in
   * flight travel in chunks of up to CHUNK_CALLS per POST.
   */
  private async deliverBatch(batch: Batch): Promise<DeliveryReport> {
    const flow = this.windowOf(batch.destination);
    const window = Math.min(flow.size(this.pacing), batch.ids.length);
    const chunk = this.opts.deliverMany && flow.batched && !this.unbatched.has(batch.destination) ? Math.min(CHUNK_CALLS, window) : 1;
    const steps: (Outcome | undefined)[] = new Array(batch.ids.length);
    let failure: Error | undefined;
    let next = 0;
    let answeredMs = 0;
    let answered = 0;
    const worker = async () => {
      while (next < batch.ids.length && !failure) {
        const from = next;
        next = Math.min(batch.ids.length, next + chunk);
        const t0 = performance.now();
        const answers = this.abort.signal.aborted ? [new Error('the queue is closing')] : await this.deliverChunk(batch.destination, batch.ids.slice(from, next));
        const perCall = (performance.now() - t0) / answers.length;
        answers.forEach((a, i) => {
          if (a instanceof Error) failure ??= a;
          else {
            steps[from + i] = a;
            answeredMs += perCall;
            answered += 1;
          }
        });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.ceil(window / chunk)) }, worker));
    flow.update(failure !== undefined, answered > 0 ? answeredMs / answered : undefined);
    const outcomes = steps.filter((o): o is Outcome => o !== undefined);
    const delivered = outcomes.filter((o) => !o.dropped).map((o) => o.id);
    const dropped = outcomes.filter((o) => o.dropped).map((o) => o.id);
    this.settle(batch, delivered, dropped, outcomes, failure);
    // The link works: go straight on with whatever is still waiting, even
    // under a pause (once awake, a backlog is sent through, then all is quiet).
    if (!failure) this.schedule(0);
    const failed = outcomes.filter((o) => o.state === 'failed').length;
    return { delivered: outcomes.length - failed, failed, unreachable: failure ? [batch.destination] : [] };
  }

  /** Sends stored calls (one, or a JSON-RPC batch); per call an outcome, or an Error when its link failed. */
  private async deliverChunk(destination: string, ids: number[]): Promise<(Outcome | Error)[]> {
    const prepared = ids.map((id) => this.prepare(destination, id));
    const calls = prepared.filter((p): p is DeliveryCall & { id: number } => !(p instanceof Error) && !('state' in p));
    let answers: (CallToolResult | Error)[] | null = null;
    if (calls.length > 1 && this.opts.deliverMany) {
      try {
        answers = await this.opts.deliverMany(destination, calls, this.abort.signal);
        if (answers === null) this.unbatched.add(destination);
      } catch (err) {
        if (!(err instanceof ChunkTooLarge)) answers = calls.map(() => (err instanceof Error ? err : new Error(String(err))));
      }
    }
    if (answers === null) {
      answers = [];
      for (const c of calls) {
        const a = await this.sendOne(destination, c);
        answers.push(a);
        if (a instanceof Error && !(a instanceof DestinationError)) break;
      }
    }
    const byId = new Map(calls.map((c, i) => [c.id, answers[i] ?? new Error('not sent after an earlier link failure')]));
    return prepared.map((p) => {
      if (p instanceof Error || 'state' in p) return p;
      const a = byId.get(p.id)!;
      if (a instanceof DestinationError) return { id: p.id, state: 'failed', result: errorResult(a.message), message: a.message };
      // A tool error is still an answer: the call happened; its result says how.
      return a instanceof Error ? a : { id: p.id, state: 'completed', result: a, message: null };
    });
  }

  /** One call as the destination gets it, an outcome for a corrupt payload, or an Error if the row cannot be read. */
  private prepare(destination: string, id: number): (DeliveryCall & { id: number }) | Outcome | Error {
    const { store, payloads, counters, log } = this.parts;
    let row;
    try {
      row = store.payload(id);
    } catch (err) {
      return new Error(`reading the queued call failed: ${(err as Error).message}`);
    }
    try {
      if (!row?.payload) throw new Error('the row has no payload');
      const args = (decodeJson(payloads, row.payload) as { arguments: Record<string, unknown> }).arguments;
      return { id, tool: row.tool, arguments: args, idempotencyKey: deliveryKey(this.senderId, row) };
    } catch (err) {
      const message = `corrupt payload: ${(err as Error).message}`;
      counters.corrupt += 1;
      log.error('offline queue: skipped a call with a corrupt payload', { id, destination, error: (err as Error).message });
      return { id, state: 'failed', result: errorResult(message), message, dropped: true };
    }
  }

  /** Sends one call; its result, a DestinationError (a final answer), or an Error (the link failed). */
  private async sendOne(destination: string, call: DeliveryCall & { id: number }): Promise<CallToolResult | Error> {
    try {
      return await this.deliver(destination, { tool: call.tool, arguments: call.arguments, idempotencyKey: call.idempotencyKey }, this.abort.signal);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Records a batch's outcome in one transaction, then lets the core decide the next attempt. */
  private settle(batch: Batch, delivered: number[], dropped: number[], outcomes: Outcome[], failure: Error | undefined): void {
    const { store, scheduler, counters } = this.parts;
    const now = this.parts.now();
    const retryAfter = failure instanceof RetryLater ? { retryAfterMs: failure.retryAfterMs } : {};
    const d = scheduler.settle(batch.destination, { delivered, dropped, failed: failure !== undefined, ...retryAfter }, now);
    const done = new Set(outcomes.map((o) => o.id));
    const next = batch.ids.find((id) => !done.has(id));
    try {
      store.transaction(() => {
        for (const o of outcomes) endTask(this.parts, o.id, o.state, o.result, o.message, now);
        if (failure && next !== undefined) store.noteAttempt(next, `delivery failed: ${failure.message}`, now);
      });
      scheduler.commit();
    } catch (err) {
      // Nothing recorded: all of it stays queued and goes again; the
      // destination's idempotency memory absorbs the repeats.
      scheduler.rollback();
      scheduler.settle(batch.destination, { delivered: [], dropped: [], failed: true }, now);
      scheduler.commit();
      this.note(batch.destination, now, `recording delivery failed: ${(err as Error).message}`);
      return;
    }
    counters.delivered += outcomes.filter((o) => o.state === 'completed').length;
    counters.failed += outcomes.filter((o) => o.state === 'failed').length;
    if (failure) this.dueAt.set(batch.destination, d.nextAttemptMs);
    else this.dueAt.delete(batch.destination);
    if (failure) {
      counters.attempts_failed += 1;
      this.note(batch.destination, now, `${failure.message} (attempt ${d.failures}; next try in ${d.nextAttemptMs - now} ms)`);
    } else {
      this.note(batch.destination, now, null);
    }
  }

  private note(destination: string, now: number, error: string | null): void {
    const s = this.state.destinations.get(destination) ?? { lastDeliveryMs: null, lastError: null, lastErrorMs: null, window: 1, windowShrinks: 0 };
    const flow = this.windowOf(destination);
    s.window = flow.size(this.pacing);
    s.windowShrinks = flow.shrinks;
    if (error === null) {
      s.lastDeliveryMs = now;
      this.state.lastDeliveryMs = now;
    } else {
      s.lastError = error;
      s.lastErrorMs = now;
      this.state.lastError = `${destination}: ${error}`;
    }
    this.state.destinations.set(destination, s);
  }
}
