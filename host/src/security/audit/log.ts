// The gateway's audit writer. record() is all a call pays: it pushes the
// event on an in-memory list (no hashing, no JSON, no I/O). Every
// flushIntervalMs, or as soon as batchMax events wait, the list is written to
// the chain in one transaction (a group commit, as the offline queue does in
// queue/group.ts), and the WAL is then flushed to disk off the event loop
// (queue/disk-flush.ts): a batch is durable once that flush returns.
//
// Bounded: at most maxPending events wait. When the writer falls behind
// (a slow disk) or cannot write at all (a full disk: the batch stays
// pending and is retried every second), new events are either dropped and
// counted, with a "gap" row recorded in the chain once writing resumes
// (on_overflow = "drop", the default: the gateway keeps serving), or the
// calls themselves are refused before they run (on_overflow = "refuse": no
// audited operation happens unaudited). Both log an error line and count in
// /metrics. close() writes whatever is pending.
import type { Db } from '../../storage/database.js';
import type { Logger } from '../../telemetry/log.js';
import { DiskFlush } from '../../queue/disk-flush.js';
import type { AuditEvent } from './event.js';
import { AuditStore } from './store.js';

export interface AuditSettings {
  enabled: boolean;
  /** Store the arguments themselves (canonical JSON), not only their digest. */
  recordArguments: boolean;
  /** Prune rows older than this many days; undefined keeps them by age. */
  retentionDays?: number;
  /** Keep at most this many rows; undefined keeps them by count. */
  maxRows?: number;
  /** The longest an event waits before its batch is written, ms. */
  flushIntervalMs: number;
  /** Most events in one transaction. */
  batchMax: number;
  /** Most events waiting; past it, on_overflow decides. */
  maxPending: number;
  onOverflow: 'drop' | 'refuse';
}

/** The writer's counters, for /metrics. */
export interface AuditCounters {
  recorded: number;
  written: number;
  dropped: number;
  refused: number;
  batches: number;
  writeErrors: number;
  pruned: number;
}

/** The recording API the gateway (and policy's denial hook) calls. */
export interface AuditRecorder {
  /** Queues an event; false when it was dropped (the writer is behind or off). */
  record(event: AuditEvent): boolean;
  /** Whether an operation may run now: false only with on_overflow = "refuse" while the writer is full. */
  admits(): boolean;
}

/** Recording turned off (audit.enabled = false): nothing is kept. */
export const NO_AUDIT: AuditRecorder = { record: () => false, admits: () => true };

const RETRY_MS = 1000;
const PRUNE_EVERY_MS = 60_000;
const PRUNE_LIMIT = 10_000;
const DAY_MS = 86_400_000;

export class AuditLog implements AuditRecorder {
  readonly counters: AuditCounters = { recorded: 0, written: 0, dropped: 0, refused: 0, batches: 0, writeErrors: 0, pruned: 0 };
  readonly store: AuditStore;
  private pending: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private failing = false;
  private closed = false;
  /** Events dropped since the last gap row: how many and when. */
  private gap: { count: number; firstMs: number; lastMs: number } | undefined;
  private readonly disk: DiskFlush;
  private readonly pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    db: Db,
    readonly settings: AuditSettings,
    private readonly log: Logger,
  ) {
    this.store = new AuditStore(db);
    this.disk = new DiskFlush(db, 'off-loop');
    if (settings.retentionDays !== undefined || settings.maxRows !== undefined) {
      // At start, everything due; then one bounded slice a minute, so that no prune stalls the calls for long.
      this.prune(true);
      this.pruneTimer = setInterval(() => this.prune(false), PRUNE_EVERY_MS).unref();
    }
  }

  /** Events waiting to be written. */
  get backlog(): number {
    return this.pending.length;
  }

  record(event: AuditEvent): boolean {
    if (this.closed) {
      // After close() nothing more is written; a late event is counted as lost.
      this.counters.dropped += 1;
      return false;
    }
    if (this.pending.length >= this.settings.maxPending) return this.overflow();
    if (event.at === undefined) event.at = Date.now();
    this.counters.recorded += 1;
    this.pending.push(event);
    if (this.failing) return true; // the retry timer is set
    if (this.pending.length >= this.settings.batchMax) this.writeSoon();
    else if (this.timer === undefined && this.immediate === undefined) this.schedule(this.settings.flushIntervalMs);
    return true;
  }

  admits(): boolean {
    if (this.settings.onOverflow === 'drop' || this.pending.length < this.settings.maxPending) return true;
    this.counters.refused += 1;
    return false;
  }

  /** Writes every pending event now (batch by batch), and resolves once they are on disk. */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.gap) {
      if (!this.writeBatch()) break;
    }
    await this.disk.onDisk();
  }

  /** Writes what is pending, stops the timers and releases the WAL descriptor. The database stays open (the gateway closes it). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    try {
      await this.flush();
    } finally {
      await this.disk.close();
    }
    if (this.pending.length > 0) this.log.error('audit log: records not written at shutdown', { records: this.pending.length });
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  /** A full batch waits: write it right after the requests being read now, not at the end of the interval. */
  private writeSoon(): void {
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => this.tick());
    this.immediate.unref();
  }

  private tick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate = undefined;
    const written = this.writeBatch();
    if (written) this.disk.onDisk().catch((err: unknown) => this.log.error('audit log: a written batch could not be flushed to disk', { error: String(err) }));
    if (!written) this.schedule(RETRY_MS);
    else if (this.pending.length >= this.settings.batchMax) this.writeSoon();
    else if (this.pending.length > 0 || this.gap) this.schedule(this.settings.flushIntervalMs);
  }

  private overflow(): boolean {
    this.counters.dropped += 1;
    const now = Date.now();
    if (!this.gap) {
      this.gap = { count: 0, firstMs: now, lastMs: now };
      this.log.error('audit log: the writer is behind (or the disk refuses writes); dropping audit records until it catches up, and recording the gap in the chain', {
        pending: this.pending.length,
        max_pending: this.settings.maxPending,
        on_overflow: this.settings.onOverflow,
      });
    }
    this.gap.count += 1;
    this.gap.lastMs = now;
    return false;
  }

  /** Commits one batch (a gap row first, when records were dropped); false when the database refused it. */
  private writeBatch(): boolean {
    const batch = this.pending.length > this.settings.batchMax ? this.pending.slice(0, this.settings.batchMax) : this.pending;
    const gap = this.gap;
    const events = gap ? [gapEvent(gap), ...batch] : batch;
    if (events.length === 0) return true;
    try {
      this.disk.commitUnflushed(() => this.store.db.transaction(() => this.store.appendInTransaction(events, this.settings.recordArguments)).immediate());
    } catch (err) {
      this.counters.writeErrors += 1;
      if (!this.failing) this.log.error('audit log: cannot write to the database; records wait in memory (up to audit.max_pending) and writing is retried every second', { error: (err as Error).message, pending: this.pending.length });
      this.failing = true;
      return false;
    }
    if (this.failing) this.log.info('audit log: writing again', { pending: this.pending.length });
    this.failing = false;
    if (gap) this.gap = undefined;
    this.pending = batch === this.pending ? [] : this.pending.slice(batch.length);
    this.counters.written += batch.length;
    this.counters.batches += 1;
    return true;
  }

  private prune(untilDone: boolean): void {
    const { retentionDays, maxRows } = this.settings;
    const now = Date.now();
    try {
      let removed: number;
      do {
        removed = this.store.prune({ ...(retentionDays !== undefined ? { olderThanMs: now - retentionDays * DAY_MS } : {}), ...(maxRows !== undefined ? { maxRows } : {}), limit: PRUNE_LIMIT }, now);
        this.counters.pruned += removed;
      } while (untilDone && removed === PRUNE_LIMIT);
    } catch (err) {
      this.log.error('audit log: pruning old rows failed', { error: (err as Error).message });
    }
  }
}

function gapEvent(gap: { count: number; firstMs: number; lastMs: number }): AuditEvent {
  return {
    operation: 'audit/gap',
    outcome: 'gap',
    code: gap.count,
    detail: `${gap.count} audit records were dropped between ${new Date(gap.firstMs).toISOString()} and ${new Date(gap.lastMs).toISOString()} (the writer was behind or the disk refused writes)`,
    at: gap.lastMs,
  };
}
