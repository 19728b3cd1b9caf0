// The gateway's audit log. record() is all a call pays: it pushes the event
// on an in-memory list (no hashing, no JSON, no I/O). Every flushIntervalMs,
// or as soon as batchMax events wait, the list is posted as one batch to the
// chain writer, a worker thread with its own database connection
// (writer.ts): the canonical JSON, digests, chain hashes, the write
// transaction (a group commit, as the offline queue does in queue/group.ts),
// the fdatasync and retention all run there, not on the thread that serves
// the calls. A batch is durable once the worker says it is written.
//
// Bounded: at most maxPending events wait, here or in the worker. When the
// writer falls behind (a slow disk) or cannot write at all (a full disk, a
// lock: the worker keeps the batch and retries every second), new events are
// either dropped and counted, with a "gap" row recorded in the chain once
// writing resumes (on_overflow = "drop", the default: the gateway keeps
// serving), or the calls themselves are refused before they run
// (on_overflow = "refuse": no audited operation happens unaudited). Both log
// an error line and count in /metrics. close() writes whatever is pending.
import { Worker } from 'node:worker_threads';
import type { Db } from '../../storage/database.js';
import type { Logger } from '../../telemetry/log.js';
import { recordableJson, type AuditEvent } from './event.js';
import { AuditStore } from './store.js';
import { pruneDue } from './writer.js';
import { ARGUMENTS_AT, packEvents, PACKED_LENGTH, type FromWriter, type Gap, type ToWriter, type WriterOptions } from './wire.js';

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

/** How long after a writer thread stopped the next one starts. */
const RESTART_MS = 1000;

/** The compiled worker script: next to this file in dist/, and dist/'s when this runs from the TypeScript sources (tests). */
function writerScript(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../../dist/security/audit/writer-worker.js', here) : new URL('./writer-worker.js', here);
}

export class AuditLog implements AuditRecorder {
  readonly counters: AuditCounters = { recorded: 0, written: 0, dropped: 0, refused: 0, batches: 0, writeErrors: 0, pruned: 0 };
  /** The chain on the gateway's own connection (verify, export); the worker appends on its own. */
  readonly store: AuditStore;
  /** Recorded, not yet posted to the worker. */
  private pending: AuditEvent[] = [];
  /** Posted to the worker, not yet written. */
  private inWorker = 0;
  private worker: Worker | undefined;
  private readonly replies = new Map<number, (unwritten: number) => void>();
  private nextReply = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private failing = false;
  private closed = false;
  /** Events dropped since the last gap row was posted. */
  private gap: Gap | undefined;
  /** Dropping now: logged once, until the writer has caught up below max_pending. */
  private dropping = false;
  /** When a writer thread may start again after one stopped. */
  private restartAt = 0;
  private readonly options: WriterOptions;

  constructor(
    db: Db,
    readonly settings: AuditSettings,
    private readonly log: Logger,
  ) {
    if (db.memory) throw new Error('the audit log needs a database file (its writer opens its own connection to it), not an in-memory database');
    this.store = new AuditStore(db);
    this.options = { file: db.name, recordArguments: settings.recordArguments, ...(settings.retentionDays !== undefined ? { retentionDays: settings.retentionDays } : {}), ...(settings.maxRows !== undefined ? { maxRows: settings.maxRows } : {}) };
    // At start, everything due, before any call is served; the worker prunes a bounded slice a minute after that.
    if (settings.retentionDays !== undefined || settings.maxRows !== undefined) this.pruneAtStart();
  }

  /**
   * Starts the writer thread now and resolves once it answers. The gateway does not: its writer starts with the
   * first record. Benchmarks do, to keep the thread's boot out of what they time.
   */
  async start(): Promise<void> {
    if (!this.closed) await this.ask('flush');
  }

  /** The writer thread, once started (monitoring; tests stop it to see its loss handled). */
  get writerThread(): Worker | undefined {
    return this.worker;
  }

  /** Events waiting to be written (here and in the worker). */
  get backlog(): number {
    return this.pending.length + this.inWorker;
  }

  record(event: AuditEvent): boolean {
    if (this.closed) {
      // After close() nothing more is written; a late event is counted as lost.
      this.counters.dropped += 1;
      return false;
    }
    if (this.backlog >= this.settings.maxPending) return this.overflow();
    if (event.at === undefined) event.at = Date.now();
    this.counters.recorded += 1;
    this.pending.push(event);
    // The writer thread starts with the first record (an idle gateway never pays its ~16 MB), so that it is
    // up by the time the record's batch is due; after a writer died, tick() waits for restartAt first.
    if (this.worker === undefined && Date.now() >= this.restartAt) this.writer();
    if (this.pending.length >= this.settings.batchMax) this.postSoon();
    else if (this.timer === undefined && this.immediate === undefined) this.schedule();
    return true;
  }

  admits(): boolean {
    if (this.settings.onOverflow === 'drop' || this.backlog < this.settings.maxPending) return true;
    this.counters.refused += 1;
    return false;
  }

  /** Posts every pending event, and resolves once the worker has written them and they are on disk (or its first write failed). */
  async flush(): Promise<void> {
    this.postAll();
    if (this.worker) await this.ask('flush');
  }

  /** Writes what is pending and stops the worker. The gateway's database stays open (the gateway closes it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.postAll();
    if (!this.worker) return;
    const worker = this.worker;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const unwritten = await this.ask('close');
    await exited;
    if (unwritten !== 0) this.log.error('audit log: records not written at shutdown', { records: unwritten < 0 ? this.inWorker : unwritten });
  }

  private schedule(ms = this.settings.flushIntervalMs): void {
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  /** A full batch waits: post it right after the requests being read now, not at the end of the interval. */
  private postSoon(): void {
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => this.tick());
    this.immediate.unref();
  }

  private clearTimers(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  private tick(): void {
    this.clearTimers();
    const wait = this.restartAt - Date.now();
    if (this.worker === undefined && wait > 0) this.schedule(wait);
    else this.postAll();
  }

  /** Posts the pending events to the worker, batchMax at a time, the gap (if any) before the first. */
  private postAll(): void {
    while (this.pending.length > 0 || this.gap) {
      const batch = this.pending.length > this.settings.batchMax ? this.pending.splice(0, this.settings.batchMax) : this.pending;
      if (batch === this.pending) this.pending = [];
      this.post(batch);
    }
  }

  private post(batch: AuditEvent[]): void {
    const records = packEvents(batch);
    const message: ToWriter = { type: 'batch', records, ...(this.gap ? { gap: this.gap } : {}) };
    try {
      this.writer().postMessage(message);
    } catch {
      // Arguments that cannot be cloned (a function or a class instance from an embedding program): their canonical JSON is what is digested anyway.
      for (let k = ARGUMENTS_AT; k < records.length; k += PACKED_LENGTH) if (records[k] !== undefined) records[k] = JSON.parse(recordableJson(records[k])) as unknown;
      this.writer().postMessage(message);
    }
    this.gap = undefined;
    this.inWorker += batch.length;
  }

  /** The worker, started with the first record (a gateway that records nothing never starts one). */
  private writer(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(writerScript(), { workerData: this.options });
    worker.unref(); // the gateway's own handles keep the process alive; close() waits for the worker
    worker.on('message', (message: FromWriter) => this.onMessage(message));
    worker.on('error', (err) => this.log.error('audit log: the writer thread failed', { error: err.message }));
    worker.on('exit', (code) => this.lost(worker, code));
    this.worker = worker;
    return worker;
  }

  /** Sends a flush or close request and waits for its reply (keeping the process alive meanwhile). */
  private ask(type: 'flush' | 'close'): Promise<number> {
    const worker = this.writer();
    const id = ++this.nextReply;
    worker.ref();
    return new Promise<number>((resolve) => {
      this.replies.set(id, (unwritten) => {
        this.replies.delete(id);
        // Once closing, the worker stays referenced until it exits (close() waits for that).
        if (this.replies.size === 0 && !this.closed) worker.unref();
        resolve(unwritten);
      });
      worker.postMessage({ type, id } satisfies ToWriter);
    });
  }

  private onMessage(message: FromWriter): void {
    switch (message.type) {
      case 'written':
        this.inWorker -= message.records;
        this.counters.written += message.records;
        this.counters.batches += message.batches;
        if (this.dropping && this.backlog < this.settings.maxPending) this.dropping = false;
        if (this.failing && !message.failing) this.log.info('audit log: writing again', { pending: this.backlog });
        this.failing = message.failing;
        break;
      case 'failed':
        this.counters.writeErrors += 1;
        if (!this.failing) this.log.error('audit log: cannot write to the database; records wait in memory (up to audit.max_pending) and writing is retried every second', { error: message.error, pending: this.backlog });
        this.failing = true;
        break;
      case 'pruned':
        this.counters.pruned += message.rows;
        break;
      case 'log':
        this.log[message.level](message.message, message.fields);
        break;
      case 'reply':
        this.replies.get(message.id)?.(message.unwritten);
        break;
    }
  }

  /** The worker stopped. Unexpectedly: what it held is lost, counted and recorded as a gap; the next batch starts a new one. */
  private lost(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const answer of [...this.replies.values()]) answer(this.inWorker);
    if (this.closed) return;
    this.log.error('audit log: the writer thread stopped; the records it held are lost and recorded as a gap, and a new writer starts', { exit_code: code, records: this.inWorker });
    if (this.inWorker > 0) {
      this.counters.dropped += this.inWorker;
      this.addToGap(this.inWorker, Date.now());
      this.inWorker = 0;
    }
    // A second after, not at once: a writer that cannot start is not restarted in a tight loop (flush and close do not wait).
    this.restartAt = Date.now() + RESTART_MS;
    this.clearTimers();
    this.schedule(RESTART_MS);
  }

  private overflow(): boolean {
    this.counters.dropped += 1;
    const now = Date.now();
    if (!this.dropping) {
      this.dropping = true;
      this.log.error('audit log: the writer is behind (or the disk refuses writes); dropping audit records until it catches up, and recording the gap in the chain', {
        pending: this.backlog,
        max_pending: this.settings.maxPending,
        on_overflow: this.settings.onOverflow,
      });
    }
    this.addToGap(1, now);
    // The gap row goes with the next batch; make sure there is one even if no record follows.
    if (this.timer === undefined && this.immediate === undefined) this.schedule();
    return false;
  }

  private addToGap(count: number, now: number): void {
    this.gap ??= { count: 0, firstMs: now, lastMs: now };
    this.gap.count += count;
    this.gap.lastMs = now;
  }

  private pruneAtStart(): void {
    try {
      this.counters.pruned += pruneDue(this.store, this.settings, true);
    } catch (err) {
      this.log.error('audit log: pruning old rows failed', { error: (err as Error).message });
    }
  }
}
