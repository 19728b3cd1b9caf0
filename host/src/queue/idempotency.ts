// The receiving side of exactly-once: an mcp-edge that is a queue's destination
// remembers each idempotency key with the first result for a window, and
// answers a repeat (a resend after a lost acknowledgement) with that result,
// so the tool's effect happens once. A repeat that arrives while the first is
// still running waits for it.
//
// The one window this cannot close alone: the receiver dies after the tool's
// effect and before its result is recorded. What a resend then gets is a
// choice (offline.idempotency_in_doubt):
//   "rerun"  (default) the key is unknown, so the call runs again: at least
//            once; exactly once only for tools that are idempotent themselves.
//   "refuse" a durable "started" mark is written before the effect (one more
//            fsync per keyed call); a resend that finds the mark without a
//            result is answered with an error saying the outcome is unknown,
//            and is not run again: at most once, and the doubt is reported,
//            never hidden. (A crash after the mark but before the effect also
//            lands here: that call is reported, not silently lost.)
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, PROVIDER_UNAVAILABLE } from '../protocol/jsonrpc.js';
import type { Db } from '../storage/database.js';
import type { DiskFlush } from './disk-flush.js';
import { McpError, isMcpError } from '../protocol/mcp-error.js';

/** The `_meta` key that carries a call's idempotency key. */
export const IDEMPOTENCY_META_KEY = 'dev.mcp-edge/idempotency-key';
const MAX_KEY_LENGTH = 512;
/** What a "started" mark stores in place of a result. */
const STARTED = '';

export type InDoubtPolicy = 'rerun' | 'refuse';

/** Errors that mean the tool never ran: unknown tool or bad arguments, or no provider could take it. */
const NEVER_RAN = new Set<number>([INVALID_PARAMS, METHOD_NOT_FOUND, PROVIDER_UNAVAILABLE]);

export class IdempotencyMemory {
  private readonly running = new Map<string, Promise<CallToolResult>>();
  private readonly get;
  private readonly put;
  private readonly mark;
  private readonly unmark;
  private readonly prune;
  private lastPruneMs = 0;
  /** Repeats answered from memory instead of running the tool again. */
  repeats = 0;
  /** Keys whose first result could not be recorded (the window is then not guaranteed for them). */
  recordFailures = 0;
  lastRecordError: string | null = null;
  /** Resends answered "outcome unknown" (policy refuse). */
  inDoubt = 0;
  /** First results waiting to be written together (group record; see recordLater). */
  private pending: { key: string; result: string; done: () => void }[] = [];
  private readonly db: Db;

  constructor(
    db: Db,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    readonly inDoubtPolicy: InDoubtPolicy = 'rerun',
    /**
     * When given, first results are recorded as a group: every result of one
     * tick in one transaction, flushed off the event loop (disk-flush.ts),
     * each answer leaving only once its record is on disk. Without it each
     * record is its own transaction, one fsync per call, which caps a
     * destination at the disk's fsync rate however many calls arrive at once.
     */
    private readonly flush?: DiskFlush,
  ) {
    this.db = db;
    this.get = db.prepare('SELECT result FROM idempotency_results WHERE key = ? AND created_ms >= ?').pluck();
    // A result replaces a "started" mark, never another result.
    this.put = db.prepare(`INSERT INTO idempotency_results (key, result, created_ms) VALUES (?, ?, ?)
                           ON CONFLICT(key) DO UPDATE SET result = excluded.result WHERE result = ''`);
    this.mark = db.prepare('INSERT OR REPLACE INTO idempotency_results (key, result, created_ms) VALUES (?, ?, ?)');
    this.unmark = db.prepare(`DELETE FROM idempotency_results WHERE key = ? AND result = ''`);
    this.prune = db.prepare('DELETE FROM idempotency_results WHERE created_ms < ?');
  }

  /** The key a request carries, if any (validated: a string of sane length). */
  static keyOf(meta: Record<string, unknown> | undefined): string | undefined {
    const key = meta?.[IDEMPOTENCY_META_KEY];
    return typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_LENGTH ? key : undefined;
  }

  /** Runs `fn` once per key within the window; repeats get the first result. */
  async run(key: string, fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
    const now = this.now();
    this.maybePrune(now);
    const inFlight = this.running.get(key);
    if (inFlight) {
      this.repeats += 1;
      return inFlight;
    }
    const stored = this.get.get(key, now - this.windowMs) as string | undefined;
    if (stored === STARTED && this.inDoubtPolicy === 'refuse') return this.answerInDoubt(key);
    if (stored !== undefined && stored !== STARTED) {
      this.repeats += 1;
      return JSON.parse(stored) as CallToolResult;
    }
    if (this.inDoubtPolicy === 'refuse') this.markStarted(key, now);
    const p = fn().then(
      async (result) => {
        // Recorded before the answer leaves, so a resend after a lost answer finds it.
        // If the record cannot be written (disk full), the effect still happened:
        // answer anyway, so the sender does not resend because of us.
        if (this.flush) await this.recordLater(key, JSON.stringify(result));
        else this.record([{ key, result: JSON.stringify(result) }]);
        return result;
      },
      (err: unknown) => {
        // Refused before any effect (no such tool, bad arguments, provider down): a resend may run.
        if (this.inDoubtPolicy === 'refuse' && isMcpError(err) && NEVER_RAN.has(err.code)) this.unmark.run(key);
        throw err;
      },
    );
    this.running.set(key, p);
    try {
      return await p;
    } finally {
      this.running.delete(key);
    }
  }

  /** Writes first results in one transaction; a failure is counted and reported, never thrown. */
  private record(rows: readonly { key: string; result: string }[]): boolean {
    try {
      const now = this.now();
      this.db.transaction(() => {
        for (const r of rows) this.put.run(r.key, r.result, now);
      })();
      return true;
    } catch (err) {
      this.recordFailures += rows.length;
      this.lastRecordError = (err as Error).message;
      return false;
    }
  }

  /** Joins this tick's group of records; resolves once the group is on disk (or failed, and counted). */
  private recordLater(key: string, result: string): Promise<void> {
    return new Promise<void>((done) => {
      if (this.pending.push({ key, result, done }) === 1) setImmediate(() => void this.writeGroup());
    });
  }

  private async writeGroup(): Promise<void> {
    const group = this.pending;
    this.pending = [];
    const flush = this.flush!;
    if (flush.commitUnflushed(() => this.record(group))) {
      try {
        await flush.onDisk();
      } catch (err) {
        this.recordFailures += group.length;
        this.lastRecordError = `flushing the records failed: ${(err as Error).message}`;
      }
    }
    for (const g of group) g.done();
  }

  /** Durably notes that the effect for `key` may start; without it, the effect does not run. */
  private markStarted(key: string, now: number): void {
    try {
      this.mark.run(key, STARTED, now);
    } catch (err) {
      throw new McpError(INTERNAL_ERROR, `mcp-edge could not record the idempotency key before running the call (${(err as Error).message}); it did not run it.`);
    }
  }

  /** A mark without a result from an earlier run: the outcome is unknown, so the call is not run again. */
  private answerInDoubt(key: string): CallToolResult {
    this.inDoubt += 1;
    const result: CallToolResult = {
      isError: true,
      content: [{ type: 'text', text: 'Outcome unknown: this mcp-edge stopped while running this call, before it recorded the result. Its effect may or may not have happened, so it is not run again (offline.idempotency_in_doubt = "refuse"). Check the target before repeating it under a new key.' }],
    };
    try {
      this.put.run(key, JSON.stringify(result), this.now());
    } catch {
      // Unrecorded, the next resend is answered the same way from the mark.
    }
    return result;
  }

  private maybePrune(now: number): void {
    if (now - this.lastPruneMs < 60_000) return;
    this.lastPruneMs = now;
    this.prune.run(now - this.windowMs);
  }
}
