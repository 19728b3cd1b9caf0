// Usage analytics: every tools/call is counted per tool, provider, principal
// and hour. A call pays for one Map lookup and a few additions (record());
// the counts go to SQLite every flush interval, all keys in one transaction,
// each row merged with what the hour already holds (latency histograms add).
// Token counting happens at that flush, not while the client waits.
import type { Db } from '../storage/database.js';
import type { Logger } from '../telemetry/log.js';
import { DiskFlush } from '../queue/disk-flush.js';
import { addSample, decodeHistogram, emptyHistogram, encodeHistogram, mergeInto, type Histogram } from './histogram.js';

export interface AnalyticsSettings {
  enabled: boolean;
  retentionDays: number;
  flushIntervalMs: number;
  countTokens: boolean;
}

/** One finished tools/call. */
export interface CallRecord {
  tool: string;
  /** The provider the router chose ("" when the call never reached one: refused, deferred). */
  provider: string;
  principal: string;
  /** When it ended, ms since epoch. */
  at: number;
  latencyMs: number;
  error: boolean;
  /** Bytes of the arguments and of the result's text. */
  bytes: number;
  /** The result's text, to count its tokens at the next flush (absent when not counted). */
  text?: string;
}

export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Text kept per flush for token counting; calls past it are counted without their tokens (token_calls says how many were). */
const MAX_TEXT_PER_FLUSH = 4 * 1024 * 1024;
/** Calls kept in memory for "recent calls" (the dashboard). */
const RECENT_CALLS = 100;

/** One call as "recent calls" lists it. */
export interface RecentCall {
  at: number;
  tool: string;
  provider: string;
  principal: string;
  latency_ms: number;
  error: boolean;
}

interface Bucket {
  hour: number;
  tool: string;
  provider: string;
  principal: string;
  calls: number;
  errors: number;
  bytes: number;
  tokens: number;
  tokenCalls: number;
  latencySumMs: number;
  latency: Histogram;
  texts: string[];
}

/** The token counts of `texts`, in order: one crossing into the core for a flush's texts, not one per call. */
export type TokenCounter = (texts: readonly string[]) => readonly number[] | Promise<readonly number[]>;

export class UsageRecorder {
  private pending = new Map<string, Bucket>();
  /** The bucket the last call went to (in `pending`; forgotten when `pending` is taken for a write). */
  private last: Bucket | undefined;
  /** A ring of the last RECENT_CALLS calls; `next` is where the next one goes. */
  private readonly ring: RecentCall[] = [];
  private next = 0;
  private textBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly disk: DiskFlush;
  private lastPruneHour = 0;
  private readonly selectLatency;
  private readonly upsertRow;
  private readonly deleteBefore;
  /** Calls recorded, rows written, write failures: for /metrics and tests. */
  readonly counters = { calls: 0, flushes: 0, writeErrors: 0, pruned: 0 };

  constructor(
    private readonly db: Db,
    readonly settings: AnalyticsSettings,
    private readonly log: Logger,
    private readonly countTokens?: TokenCounter,
  ) {
    this.disk = new DiskFlush(db, 'off-loop');
    this.selectLatency = db.prepare<[number, string, string, string], { latency: Buffer }>('SELECT latency FROM usage_hourly WHERE hour_ms = ? AND tool = ? AND provider = ? AND principal = ?');
    this.upsertRow = db.prepare(
      `INSERT INTO usage_hourly (hour_ms, tool, provider, principal, calls, errors, bytes, tokens, token_calls, latency_sum_ms, latency)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (hour_ms, tool, provider, principal) DO UPDATE SET
         calls = calls + excluded.calls, errors = errors + excluded.errors, bytes = bytes + excluded.bytes,
         tokens = tokens + excluded.tokens, token_calls = token_calls + excluded.token_calls,
         latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms, latency = excluded.latency`,
    );
    this.deleteBefore = db.prepare('DELETE FROM usage_hourly WHERE hour_ms < ?');
    this.prune(Date.now());
  }

  /** Whether the result's text should be handed over (it costs the caller nothing but a reference). */
  get wantsText(): boolean {
    return this.countTokens !== undefined && this.textBytes < MAX_TEXT_PER_FLUSH;
  }

  record(call: CallRecord): void {
    this.counters.calls += 1;
    this.ring[this.next] = { at: call.at, tool: call.tool, provider: call.provider, principal: call.principal, latency_ms: call.latencyMs, error: call.error };
    this.next = (this.next + 1) % RECENT_CALLS;
    const hour = call.at - (call.at % HOUR_MS);
    const b = this.bucketOf(hour, call);
    b.calls += 1;
    if (call.error) b.errors += 1;
    b.bytes += call.bytes;
    b.latencySumMs += call.latencyMs;
    addSample(b.latency, call.latencyMs);
    if (call.text !== undefined && this.wantsText) {
      b.texts.push(call.text);
      this.textBytes += call.text.length;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.settings.flushIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * The pending bucket of the call's hour, tool, provider and principal. A
   * run of calls to one tool by one principal (the usual case) finds the
   * last one used without building and hashing its key.
   */
  private bucketOf(hour: number, call: CallRecord): Bucket {
    const last = this.last;
    if (last !== undefined && last.hour === hour && last.tool === call.tool && last.provider === call.provider && last.principal === call.principal) return last;
    const key = `${hour}\u0000${call.tool}\u0000${call.provider}\u0000${call.principal}`;
    let b = this.pending.get(key);
    if (!b) {
      b = { hour, tool: call.tool, provider: call.provider, principal: call.principal, calls: 0, errors: 0, bytes: 0, tokens: 0, tokenCalls: 0, latencySumMs: 0, latency: emptyHistogram(), texts: [] };
      this.pending.set(key, b);
    }
    this.last = b;
    return b;
  }

  /** The last calls, newest first. */
  recent(): RecentCall[] {
    const n = this.ring.length;
    return Array.from({ length: n }, (_, i) => this.ring[(this.next - 1 - i + n) % n]!);
  }

  /** Writes the counts gathered so far (with their tokens counted) in one transaction. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.timer);
    await this.disk.close();
  }

  private async write(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const buckets = [...this.pending.values()];
    this.pending = new Map();
    this.last = undefined;
    this.textBytes = 0;
    if (buckets.length === 0) return;
    if (this.countTokens) await this.countTexts(buckets);
    try {
      // Analytics are not worth a disk flush on the event loop: a crash loses at most one interval.
      this.disk.commitUnflushed(() => this.db.transaction(() => buckets.forEach((b) => this.upsert(b))).immediate());
      this.counters.flushes += 1;
    } catch (err) {
      this.counters.writeErrors += 1;
      this.log.error('analytics: the usage counts could not be written; this interval is lost', { error: (err as Error).message, rows: buckets.length });
    }
    this.prune(Date.now());
  }

  private async countTexts(buckets: Bucket[]): Promise<void> {
    for (const b of buckets) {
      if (b.texts.length === 0) continue;
      try {
        this.addCounts(b, await this.countTokens!(b.texts));
      } catch {
        // One text the tokenizer refuses costs only its own count: the rest are counted one by one.
        for (const text of b.texts) {
          try {
            this.addCounts(b, await this.countTokens!([text]));
          } catch (err) {
            this.log.debug('analytics: a result could not be tokenized', { error: (err as Error).message });
          }
        }
      }
      b.texts = [];
    }
  }

  private addCounts(b: Bucket, counts: readonly number[]): void {
    for (const n of counts) b.tokens += n;
    b.tokenCalls += counts.length;
  }

  private upsert(b: Bucket): void {
    const key = [b.hour, b.tool, b.provider, b.principal] as const;
    const row = this.selectLatency.get(...key);
    if (row) mergeInto(b.latency, decodeHistogram(row.latency));
    this.upsertRow.run(...key, b.calls, b.errors, b.bytes, b.tokens, b.tokenCalls, b.latencySumMs, encodeHistogram(b.latency));
  }

  /** Deletes the hours past retention, at most once an hour. */
  private prune(now: number): void {
    const hour = now - (now % HOUR_MS);
    if (hour === this.lastPruneHour) return;
    this.lastPruneHour = hour;
    try {
      this.counters.pruned += this.deleteBefore.run(now - this.settings.retentionDays * DAY_MS).changes;
    } catch (err) {
      this.log.error('analytics: pruning old hours failed', { error: (err as Error).message });
    }
  }
}
