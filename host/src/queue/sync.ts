// The sync loop: expires what outlived its TTL, asks the core for due batches,
// delivers them in order (one batch per destination at a time, destinations in
// parallel) with each call's idempotency key, and records each outcome in one
// transaction. A link failure leaves the rest queued; the core decides when to
// try again (exponential backoff with seeded jitter).
import { setMaxListeners } from 'node:events';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Batch } from '../core/queue.js';
import { decodeJson, encodeJson, errorResult } from './payload.js';
import type { OfflineQueue } from './queue.js';
import type { RowState } from './store.js';

export interface DeliveryCall {
  tool: string;
  arguments: Record<string, unknown>;
  /** Globally unique per call; the destination answers a repeat with the first result. */
  idempotencyKey: string;
}

/** Sends one call. Throw DestinationError for an answer that is final; anything else is a link failure. */
export type Deliverer = (destination: string, call: DeliveryCall, signal: AbortSignal) => Promise<CallToolResult>;

/** The destination answered with an error: the call is done (failed); retrying cannot help. */
export class DestinationError extends Error {
  override readonly name = 'DestinationError';
}

export interface SyncReport {
  delivered: number;
  failed: number;
  /** Destinations whose link failed in this round. */
  unreachable: string[];
}

export interface DestinationSync {
  lastSyncMs: number | null;
  lastError: string | null;
  lastErrorMs: number | null;
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

export class Sync {
  readonly destinations = new Map<string, DestinationSync>();
  lastSyncMs: number | null = null;
  lastError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly active = new Set<Promise<SyncReport>>();
  private readonly abort = new AbortController();
  private kicked = false;
  /** When each destination that failed may be tried again (the core's decision, as last settled). */
  private readonly dueAt = new Map<string, number>();
  /** Rounds run since start (status and tests). */
  rounds = 0;
  private lastPruneMs = 0;

  constructor(
    private readonly q: OfflineQueue,
    private readonly deliver: Deliverer,
    private readonly opts: { batchItems: number; tickMs: number; window: number },
  ) {
    // Each call in flight links one listener to this signal (removed when it ends).
    setMaxListeners(Math.max(10, opts.window * 4), this.abort.signal);
  }

  start(): void {
    this.timer = setInterval(() => void this.round(), this.opts.tickMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for due work soon (after an enqueue, say); coalesces bursts. */
  kick(): void {
    if (this.kicked || this.abort.signal.aborted) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      void this.round();
    });
  }

  /**
   * New calls for these destinations: look for work, unless every one of
   * them is waiting out a backoff (the timer's rounds still look regularly,
   * so a stale wait time delays, never loses, a delivery).
   */
  kickFor(destinations: Iterable<string>): void {
    const now = this.q.now();
    for (const d of destinations) {
      if ((this.dueAt.get(d) ?? 0) <= now) return this.kick();
    }
  }

  /** The destination's backoff was lifted (sync now, link back). */
  forgetWait(destination?: string): void {
    if (destination === undefined) this.dueAt.clear();
    else this.dueAt.delete(destination);
  }

  /** "Sync now": every destination is due at once; resolves when all sends finish. */
  async now(maxRounds = 10_000): Promise<SyncReport> {
    await Promise.allSettled([...this.active]);
    this.forgetWait();
    this.q.scheduler.wake(undefined, this.q.now());
    const total: SyncReport = { delivered: 0, failed: 0, unreachable: [] };
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
    this.abort.abort();
    await Promise.allSettled([...this.active]);
  }

  /** One pass: expire, prune now and then, deliver due batches. */
  round(): Promise<SyncReport> {
    if (this.abort.signal.aborted) return Promise.resolve({ delivered: 0, failed: 0, unreachable: [] });
    this.rounds += 1;
    const p = this.roundInner().finally(() => this.active.delete(p));
    this.active.add(p);
    return p;
  }

  private async roundInner(): Promise<SyncReport> {
    try {
      return await this.roundSteps();
    } catch (err) {
      // A broken database must not take the process down: say so and retry next tick.
      this.lastError = `sync round failed: ${(err as Error).message}`;
      this.q.log.error('offline queue: sync round failed', { error: (err as Error).message });
      return { delivered: 0, failed: 0, unreachable: [] };
    }
  }

  private async roundSteps(): Promise<SyncReport> {
    const now = this.q.now();
    this.expire(now);
    if (now - this.lastPruneMs >= PRUNE_EVERY_MS) {
      this.lastPruneMs = now;
      this.q.store.prune(now);
    }
    const batches = this.q.scheduler.nextBatches(now, this.opts.batchItems, 8 << 20);
    const reports = await Promise.all(batches.map((b) => this.deliverBatch(b)));
    return reports.reduce((a, r) => ({ delivered: a.delivered + r.delivered, failed: a.failed + r.failed, unreachable: [...a.unreachable, ...r.unreachable] }), { delivered: 0, failed: 0, unreachable: [] });
  }

  /** Removes expired calls, marks their tasks failed and says so (never silently). */
  private expire(now: number): void {
    const q = this.q;
    const gone = q.scheduler.expire(now, EXPIRE_PAGE);
    if (gone.length === 0) return;
    try {
      q.store.transaction(() => {
        for (const g of gone) {
          const msg = `expired: not delivered to "${g.destination}" within its time to live`;
          q.store.finish(g.id, 'failed', encodeJson(q.payloads, errorResult(msg)), msg, now, now + q.keepResultsMs);
        }
      });
      q.scheduler.commit();
    } catch (err) {
      q.scheduler.rollback();
      this.lastError = `expiring calls failed: ${(err as Error).message}`;
      return;
    }
    q.counters.expired += gone.length;
    q.log.warn('offline queue: calls expired before delivery', { count: gone.length, ids: gone.slice(0, 20).map((g) => g.id) });
  }

  /**
   * Sends a batch. With a window of 1 (the default) calls go strictly in
   * order and the first link failure stops the batch; a wider window keeps
   * that many calls in flight (faster on slow links, order not guaranteed).
   */
  private async deliverBatch(batch: Batch): Promise<SyncReport> {
    const steps: (Outcome | undefined)[] = new Array(batch.ids.length);
    let failure: Error | undefined;
    let next = 0;
    const worker = async () => {
      while (next < batch.ids.length && !failure) {
        const i = next++;
        const step = this.abort.signal.aborted ? new Error('the queue is closing') : await this.deliverOne(batch.destination, batch.ids[i]!);
        if (step instanceof Error) failure ??= step;
        else steps[i] = step;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.window, batch.ids.length) }, worker));
    const outcomes = steps.filter((o): o is Outcome => o !== undefined);
    const delivered = outcomes.filter((o) => !o.dropped).map((o) => o.id);
    const dropped = outcomes.filter((o) => o.dropped).map((o) => o.id);
    this.settle(batch, delivered, dropped, outcomes, failure);
    // The link works: go straight on with whatever is still waiting.
    if (!failure) this.kick();
    const failed = outcomes.filter((o) => o.state === 'failed').length;
    return { delivered: outcomes.length - failed, failed, unreachable: failure ? [batch.destination] : [] };
  }

  /** Sends one stored call; an Error return means the link failed. */
  private async deliverOne(destination: string, id: number): Promise<Outcome | Error> {
    const q = this.q;
    let row;
    try {
      row = q.store.payload(id);
    } catch (err) {
      return new Error(`reading the queued call failed: ${(err as Error).message}`);
    }
    let args: Record<string, unknown>;
    try {
      if (!row?.payload) throw new Error('the row has no payload');
      args = (decodeJson(q.payloads, row.payload) as { arguments: Record<string, unknown> }).arguments;
    } catch (err) {
      const message = `corrupt payload: ${(err as Error).message}`;
      q.counters.corrupt += 1;
      q.log.error('offline queue: skipped a call with a corrupt payload', { id, destination, error: (err as Error).message });
      return { id, state: 'failed', result: errorResult(message), message, dropped: true };
    }
    try {
      const call = { tool: row.tool, arguments: args, idempotencyKey: deliveryKey(q.senderId, row) };
      const result = await this.deliver(destination, call, this.abort.signal);
      // A tool error is still an answer: the call happened; its result says how.
      return { id, state: 'completed', result, message: null };
    } catch (err) {
      if (err instanceof DestinationError) return { id, state: 'failed', result: errorResult(err.message), message: err.message };
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Records a batch's outcome in one transaction, then lets the core decide the next attempt. */
  private settle(batch: Batch, delivered: number[], dropped: number[], outcomes: Outcome[], failure: Error | undefined): void {
    const q = this.q;
    const now = q.now();
    const d = q.scheduler.settle(batch.destination, { delivered, dropped, failed: failure !== undefined }, now);
    const done = new Set(outcomes.map((o) => o.id));
    const next = batch.ids.find((id) => !done.has(id));
    try {
      q.store.transaction(() => {
        for (const o of outcomes) q.store.finish(o.id, o.state, encodeJson(q.payloads, o.result), o.message, now, now + q.keepResultsMs);
        if (failure && next !== undefined) q.store.noteAttempt(next, `delivery failed: ${failure.message}`, now);
      });
      q.scheduler.commit();
    } catch (err) {
      // Nothing recorded: all of it stays queued and goes again; the
      // destination's idempotency memory absorbs the repeats.
      q.scheduler.rollback();
      q.scheduler.settle(batch.destination, { delivered: [], dropped: [], failed: true }, now);
      q.scheduler.commit();
      this.note(batch.destination, now, `recording delivery failed: ${(err as Error).message}`);
      return;
    }
    q.counters.delivered += outcomes.filter((o) => o.state === 'completed').length;
    q.counters.failed += outcomes.filter((o) => o.state === 'failed').length;
    if (failure) this.dueAt.set(batch.destination, d.nextAttemptMs);
    else this.dueAt.delete(batch.destination);
    if (failure) {
      q.counters.attempts_failed += 1;
      this.note(batch.destination, now, `${failure.message} (attempt ${d.failures}; next try in ${d.nextAttemptMs - now} ms)`);
    } else {
      this.note(batch.destination, now, null);
    }
  }

  private note(destination: string, now: number, error: string | null): void {
    const s = this.destinations.get(destination) ?? { lastSyncMs: null, lastError: null, lastErrorMs: null };
    if (error === null) {
      s.lastSyncMs = now;
      this.lastSyncMs = now;
    } else {
      s.lastError = error;
      s.lastErrorMs = now;
      this.lastError = `${destination}: ${error}`;
    }
    this.destinations.set(destination, s);
  }
}
