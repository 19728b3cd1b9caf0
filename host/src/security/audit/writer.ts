// The audit chain's writer, run in a worker thread (writer-worker.ts) with
// its own connection to the gateway's database: everything that costs CPU
// (canonical JSON, the argument digests, the chain hashes, the SQLite
// transaction, the fdatasync, retention) happens here, off the thread that
// serves the calls. Batches arrive in order from log.ts; each is one write
// transaction that reads the chain's head inside it (so the CLI's admin
// actions, appended by another process, stay on the same chain). The WAL is
// flushed to disk after the commits (queue/disk-flush.ts), and the main
// thread is told what was written only once it is on disk.
//
// A batch the database refuses (a lock held too long, a full disk) stays
// queued here and is retried every second; the main thread counts it in its
// backlog until it is written, so audit.max_pending bounds the two together.
import type { Db } from '../../storage/database.js';
import { DiskFlush } from '../../queue/disk-flush.js';
import type { AuditEvent } from './event.js';
import { AuditStore } from './store.js';
import { gapEvent, type FromWriter, type Gap, type WriterOptions } from './wire.js';

const RETRY_MS = 1000;
const PRUNE_EVERY_MS = 60_000;
const PRUNE_LIMIT = 10_000;
const DAY_MS = 86_400_000;

interface Queued {
  events: AuditEvent[];
  /** The records in it (a gap row is not one). */
  records: number;
}

/**
 * Prunes what retention says is due (one slice of PRUNE_LIMIT rows, or all
 * of it with `untilDone`); returns the rows removed. Throws what SQLite throws.
 */
export function pruneDue(store: AuditStore, options: Pick<WriterOptions, 'retentionDays' | 'maxRows'>, untilDone: boolean, now = Date.now()): number {
  const { retentionDays, maxRows } = options;
  let total = 0;
  let removed: number;
  do {
    removed = store.prune({ ...(retentionDays !== undefined ? { olderThanMs: now - retentionDays * DAY_MS } : {}), ...(maxRows !== undefined ? { maxRows } : {}), limit: PRUNE_LIMIT }, now);
    total += removed;
  } while (untilDone && removed === PRUNE_LIMIT);
  return total;
}

export class ChainWriter {
  private readonly store: AuditStore;
  private readonly disk: DiskFlush;
  private readonly queue: Queued[] = [];
  /** Settles once every batch committed so far is on disk and reported as written. */
  private onDisk: Promise<void> = Promise.resolve();
  private failing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly options: WriterOptions,
    private readonly send: (message: FromWriter) => void,
  ) {
    this.store = new AuditStore(db);
    this.disk = new DiskFlush(db, 'off-loop');
    // The gateway pruned everything due when it started (log.ts); from then on, one bounded slice a minute.
    if (options.retentionDays !== undefined || options.maxRows !== undefined) {
      this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    }
  }

  /** Queues one batch and commits it at once, unless writing is failing (then the retry timer does). */
  add(records: AuditEvent[], gap: Gap | undefined): void {
    if (records.length === 0 && gap === undefined) return;
    this.queue.push({ events: gap ? [gapEvent(gap), ...records] : records, records: records.length });
    if (!this.failing) this.write();
  }

  /**
   * Resolves once everything queued before it was written and is on disk, or
   * a write failed. While writing is failing, it does not try again before
   * the retry timer unless `force` (close: one last attempt).
   */
  flush(force = false): Promise<void> {
    if (!this.failing || force) this.write();
    return this.onDisk;
  }

  /** Makes one last attempt, then releases the connection; returns how many records stay unwritten. */
  async close(): Promise<number> {
    clearInterval(this.pruneTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.flush(true);
    await this.disk.close();
    const unwritten = this.queue.reduce((n, q) => n + q.records, 0);
    this.db.close();
    return unwritten;
  }

  /**
   * Commits the queued batches now, in order, until one fails; the main
   * thread hears they are written once the WAL flush after them returns. A
   * batch is committed as soon as it arrives, even while the flush of the one
   * before is under way (a kill loses only what was not committed).
   */
  private write(): void {
    let records = 0;
    let batches = 0;
    let error: string | undefined;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      try {
        this.disk.commitUnflushed(() => this.db.transaction(() => this.store.appendInTransaction(next.events, this.options.recordArguments)).immediate());
      } catch (err) {
        error = (err as Error).message;
        break;
      }
      this.queue.shift();
      records += next.records;
      batches += 1;
    }
    this.failing = error !== undefined;
    if (batches > 0) {
      this.onDisk = this.disk.onDisk().then(
        () => this.send({ type: 'written', records, batches, failing: this.failing }),
        (err: unknown) => {
          this.send({ type: 'log', level: 'error', message: 'audit log: a written batch could not be flushed to disk', fields: { error: String(err) } });
          this.send({ type: 'written', records, batches, failing: this.failing });
        },
      );
    }
    if (error !== undefined) {
      this.send({ type: 'failed', error });
      this.retryLater();
    }
  }

  private retryLater(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.write();
    }, RETRY_MS);
  }

  private prune(): void {
    try {
      const rows = pruneDue(this.store, this.options, false);
      if (rows > 0) this.send({ type: 'pruned', rows });
    } catch (err) {
      this.send({ type: 'log', level: 'error', message: 'audit log: pruning old rows failed', fields: { error: (err as Error).message } });
    }
  }
}
