// Typed facade over the component's `queue` interface: numbers instead of
// bigints (ids and sizes stay far below 2^53), errors as CoreError.
import type { Root } from './generated/edge-core.js';
import type * as Q from './generated/interfaces/mcp-edge-core-queue.js';
import { callCore } from './errors.js';

export type Priority = Q.Priority;

/** The core's priorities, lowest first: a priority's index is its code in admit columns and in stored rows. */
export const PRIORITIES: readonly Priority[] = ['low', 'normal', 'high', 'urgent'];
export type OverflowPolicy = Q.OverflowPolicy;

export interface QueueLimits {
  maxItems: number;
  maxBytes: number;
  overflow: OverflowPolicy;
  /** Time to live of a call without its own, ms; undefined: forever. */
  defaultTtlMs?: number;
}

export interface SchedulerConfig {
  defaultLimits?: QueueLimits;
  maxItemBytes?: number;
  backoff?: { baseMs: number; maxMs: number; jitterPercent: number };
  /** Seeds jitter and keys the idempotency hash; persist it across restarts. */
  seed: bigint;
}

export interface AdmitRequest {
  destination: string;
  priority: Priority;
  bytes: number;
  idempotencyKey?: string;
  ttlMs?: number;
}

export interface Removed {
  id: number;
  destination: string;
}

export type RejectReason =
  | { code: 'full'; items: number; bytes: number }
  | { code: 'too-large'; bytes: number; limit: number }
  | { code: 'bad-destination' }
  | { code: 'ids-exhausted' }
  | { code: 'unpackable'; why: string };

export type Decision =
  | { kind: 'admit'; id: number; expiresAtMs?: number; evicted: Removed[] }
  | { kind: 'duplicate' }
  | { kind: 'reject'; reason: RejectReason };

/** A group of calls as columns (one entry per call in every per-call column). */
export interface AdmitColumns {
  destinations: string[];
  /** Index into `destinations`. */
  destination: Uint16Array;
  /** 0 low .. 3 urgent. */
  priorities: Uint8Array;
  /** Stored (packed) sizes in bytes. */
  sizes: Uint32Array;
  /** Time to live in ms; 0: the destination's default. */
  ttlMs: BigUint64Array;
  /** Every call's key, concatenated. */
  keys: string;
  /** UTF-8 byte length of each call's key; 0: none. */
  keyLengths: Uint32Array;
}

export interface AdmittedColumns {
  /** Per call: its id when admitted, 0n otherwise. */
  ids: BigUint64Array;
  /** Per call: absolute expiry in ms; 0n: never or not admitted. */
  expiresAtMs: BigUint64Array;
  /** Calls that are not a plain admission, in order. */
  exceptions: { index: number; decision: Decision }[];
}

export interface StoredItem {
  id: number;
  destination: string;
  priority: Priority;
  bytes: number;
  expiresAtMs?: number;
  idempotencyKey?: string;
}

export interface Batch {
  destination: string;
  ids: number[];
}

export interface SettleDecision {
  removed: number[];
  nextAttemptMs: number;
  failures: number;
}

export interface LaneStatus {
  destination: string;
  items: number;
  bytes: number;
  oldestId?: number;
  inFlight: number;
  failures: number;
  nextAttemptMs: number;
  limits: QueueLimits;
}

const big = (n: number): bigint => BigInt(Math.max(0, Math.trunc(n)));
const opt = (n: number | undefined): bigint | undefined => (n === undefined ? undefined : big(n));
const num = (n: bigint | undefined): number | undefined => (n === undefined ? undefined : Number(n));

function toLimits(l: QueueLimits): Q.Limits {
  return { maxItems: big(l.maxItems), maxBytes: big(l.maxBytes), overflow: l.overflow, defaultTtlMs: opt(l.defaultTtlMs) };
}

function fromLimits(l: Q.Limits): QueueLimits {
  return { maxItems: Number(l.maxItems), maxBytes: Number(l.maxBytes), overflow: l.overflow, ...(l.defaultTtlMs === undefined ? {} : { defaultTtlMs: Number(l.defaultTtlMs) }) };
}

function fromReason(r: Q.RejectReason): RejectReason {
  if (r.tag === 'full') return { code: 'full', items: Number(r.val.items), bytes: Number(r.val.bytes) };
  if (r.tag === 'too-large') return { code: 'too-large', bytes: Number(r.val.bytes), limit: Number(r.val.limit) };
  if (r.tag === 'ids-exhausted') return { code: 'ids-exhausted' };
  if (r.tag === 'unpackable') return { code: 'unpackable', why: r.val };
  return { code: 'bad-destination' };
}

function fromDecision(d: Q.Decision): Decision {
  if (d.tag === 'duplicate') return { kind: 'duplicate' };
  if (d.tag === 'reject') return { kind: 'reject', reason: fromReason(d.val) };
  const evicted = d.val.evicted.map((r) => ({ id: Number(r.id), destination: r.destination }));
  return { kind: 'admit', id: Number(d.val.id), expiresAtMs: num(d.val.expiresAtMs), evicted };
}

function toRequest(r: AdmitRequest): Q.AdmitRequest {
  return { destination: r.destination, priority: r.priority, bytes: big(r.bytes), idempotencyKey: r.idempotencyKey, ttlMs: opt(r.ttlMs) };
}

const describe = (e: { tag: string; val?: unknown }): string => {
  switch (e.tag) {
    case 'unknown-destination':
      return 'The queue has no such destination.';
    case 'not-found':
      return 'No queued call has this id: it was delivered, expired, evicted or cancelled.';
    case 'in-flight':
      return 'The call is being sent right now; its outcome decides.';
    case 'bad-destination':
      return 'Destination names are 1-256 bytes.';
    default:
      return `queue error: ${e.tag}`;
  }
};

/** The offline queue's decision maker, living in the Rust core. */
export class QueueScheduler {
  private readonly inner: Q.Scheduler;

  constructor(root: Root, config: SchedulerConfig) {
    const b = config.backoff;
    this.inner = new root.queue.Scheduler({
      defaultLimits: config.defaultLimits && toLimits(config.defaultLimits),
      maxItemBytes: config.maxItemBytes,
      backoff: b && { baseMs: big(b.baseMs), maxMs: big(b.maxMs), jitterPercent: b.jitterPercent },
      seed: BigInt.asUintN(64, config.seed),
    });
  }

  configure(destination: string, limits: QueueLimits): void {
    callCore(() => this.inner.configure(destination, toLimits(limits)), (e) => (e.tag === 'bad-destination' ? describe(e) : `cannot configure ${destination}: ${e.tag}`));
  }

  /** Allocates room for a rebuild of `items` calls (`keyed` of them with keys) in one go. */
  reserve(destination: string, priority: Priority, items: number, keyed: number): void {
    callCore(() => this.inner.reserve(destination, priority, items, keyed), describe);
  }

  reserveIdsBelow(min: number): void {
    this.inner.reserveIdsBelow(big(min));
  }

  admitMany(requests: AdmitRequest[], nowMs: number): Decision[] {
    return this.inner.admitMany(requests.map(toRequest), big(nowMs)).map(fromDecision);
  }

  /** Packs each payload with the core codec and decides its call, in one crossing. */
  admitFramed(requests: AdmitRequest[], payloads: Uint8Array[], algorithm: 'stored' | 'zstd' | 'lz4', nowMs: number): { decision: Decision; frame?: Uint8Array }[] {
    const out = this.inner.admitFramed(requests.map(toRequest), payloads, { algorithm }, big(nowMs));
    return out.map((f) => ({ decision: fromDecision(f.decision), frame: f.frame }));
  }

  /**
   * Decides a group of calls given as columns, in one crossing (see
   * wit/queue.wit `admit-columns`). Per call: `ids[i]` is its id when
   * admitted, else 0; calls that are not a plain admission come back in
   * `exceptions` with their full decision.
   */
  admitColumns(c: AdmitColumns, nowMs: number): AdmittedColumns {
    const out = this.inner.admitColumns(c, big(nowMs));
    return { ids: out.ids, expiresAtMs: out.expiresAtMs, exceptions: out.exceptions.map((e) => ({ index: e.index, decision: fromDecision(e.decision) })) };
  }

  expire(nowMs: number, max: number): Removed[] {
    return this.inner.expire(big(nowMs), max).map((r) => ({ id: Number(r.id), destination: r.destination }));
  }

  nextBatches(nowMs: number, maxItems: number, maxBytes: number): Batch[] {
    return this.inner.nextBatches(big(nowMs), maxItems, big(maxBytes)).map((b) => ({ destination: b.destination, ids: Array.from(b.ids, Number) }));
  }

  /** Records a batch's outcome; `retryAfterMs` is the wait a failed destination asked for (its Retry-After). */
  settle(destination: string, s: { delivered: number[]; dropped: number[]; failed: boolean; retryAfterMs?: number }, nowMs: number): SettleDecision {
    const settlement = { delivered: BigUint64Array.from(s.delivered, big), dropped: BigUint64Array.from(s.dropped, big), failed: s.failed, retryAfterMs: opt(s.retryAfterMs) };
    const d = callCore(() => this.inner.settle(destination, settlement, big(nowMs)), describe);
    return { removed: Array.from(d.removed, Number), nextAttemptMs: Number(d.nextAttemptMs), failures: d.failures };
  }

  /** No batch for `destination` for `waitMs` (capped at the backoff's longest wait); when it may be tried next, undefined for an unknown destination. */
  hold(destination: string, waitMs: number, nowMs: number): number | undefined {
    return num(this.inner.hold(destination, big(waitMs), big(nowMs)));
  }

  wake(destination: string | undefined, nowMs: number): void {
    this.inner.wake(destination, big(nowMs));
  }

  cancel(id: number): Removed {
    const r = callCore(() => this.inner.cancel(big(id)), describe);
    return { id: Number(r.id), destination: r.destination };
  }

  load(items: StoredItem[]): { id: number; error: string }[] {
    const rows = items.map((i) => ({ ...i, id: big(i.id), bytes: big(i.bytes), expiresAtMs: opt(i.expiresAtMs) }));
    return this.inner.load(rows).map((f) => ({ id: Number(f.id), error: f.error }));
  }

  /** Rebuilds one destination and priority from columns (fast path for large queues). */
  loadColumns(destination: string, priority: Priority, rows: { ids: number[]; sizes: number[]; expiresAtMs: number[]; keys: (string | undefined)[] }): { id: number; error: string }[] {
    const keyLengths = Uint32Array.from(rows.keys, (k) => (k ? Buffer.byteLength(k) : 0));
    const columns = {
      ids: BigUint64Array.from(rows.ids, big),
      sizes: Uint32Array.from(rows.sizes),
      expiresAtMs: BigUint64Array.from(rows.expiresAtMs, big),
      keys: rows.keys.join(''),
      keyLengths,
    };
    return this.inner.loadColumns(destination, priority, columns).map((f) => ({ id: Number(f.id), error: f.error }));
  }

  commit(): void {
    this.inner.commit();
  }

  rollback(): void {
    this.inner.rollback();
  }

  status(): LaneStatus[] {
    return this.inner.status().map((s) => ({
      destination: s.destination,
      items: Number(s.items),
      bytes: Number(s.bytes),
      oldestId: num(s.oldestId),
      inFlight: s.inFlight,
      failures: s.failures,
      nextAttemptMs: Number(s.nextAttemptMs),
      limits: fromLimits(s.limits),
    }));
  }

  get length(): number {
    return Number(this.inner.len());
  }
}
