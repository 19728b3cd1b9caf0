// The receiving side of exactly-once: an mcp-edge that is a queue's destination
// remembers each idempotency key with the first result for a window, and
// answers a repeat (a resend after a lost acknowledgement) with that result,
// so the tool's effect happens once. A repeat that arrives while the first is
// still running waits for it.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Db } from '../storage/database.js';

/** The `_meta` key that carries a call's idempotency key. */
export const IDEMPOTENCY_META_KEY = 'dev.mcp-edge/idempotency-key';
const MAX_KEY_LENGTH = 512;

export class IdempotencyMemory {
  private readonly running = new Map<string, Promise<CallToolResult>>();
  private readonly get;
  private readonly put;
  private readonly prune;
  private lastPruneMs = 0;
  /** Repeats answered from memory instead of running the tool again. */
  repeats = 0;
  /** Keys whose first result could not be recorded (the window is then not guaranteed for them). */
  recordFailures = 0;
  lastRecordError: string | null = null;

  constructor(
    db: Db,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.get = db.prepare('SELECT result FROM idempotency_results WHERE key = ? AND created_ms >= ?').pluck();
    this.put = db.prepare('INSERT OR IGNORE INTO idempotency_results (key, result, created_ms) VALUES (?, ?, ?)');
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
    const stored = this.get.get(key, now - this.windowMs) as string | undefined;
    if (stored !== undefined) {
      this.repeats += 1;
      return JSON.parse(stored) as CallToolResult;
    }
    const inFlight = this.running.get(key);
    if (inFlight) {
      this.repeats += 1;
      return inFlight;
    }
    const p = fn().then((result) => {
      // Recorded before the answer leaves, so a resend after a lost answer finds it.
      // If the record cannot be written (disk full), the effect still happened:
      // answer anyway, so the sender does not resend because of us.
      try {
        this.put.run(key, JSON.stringify(result), this.now());
      } catch (err) {
        this.recordFailures += 1;
        this.lastRecordError = (err as Error).message;
      }
      return result;
    });
    this.running.set(key, p);
    try {
      return await p;
    } finally {
      this.running.delete(key);
    }
  }

  private maybePrune(now: number): void {
    if (now - this.lastPruneMs < 60_000) return;
    this.lastPruneMs = now;
    this.prune.run(now - this.windowMs);
  }
}
