// The offline queue: calls that must wait for a link wait in SQLite, and go out
// once when it returns. The Rust core decides (admission, eviction, TTL, retry
// times, batches); this class applies each decision in one SQLite transaction
// and only then acknowledges, so an acknowledged call survives kill -9.
import { randomBytes, randomUUID } from 'node:crypto';
import { createCodec, type EdgeCodec } from '../codec/index.js';
import type { Algorithm, EdgeCore } from '../core/index.js';
import { QueueScheduler, type Decision, type Priority, type QueueLimits } from '../core/queue.js';
import type { Db } from '../storage/database.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { QueueError, storageError } from './errors.js';
import { QueueStore, type TaskRow } from './store.js';
import { Sync, type Deliverer, type SyncReport } from './sync.js';
import { decodeJson, encodeJson, errorResult, type Payloads } from './payload.js';
import { applyDecisions, columnsOf, packGroup, type Answer, type Pending } from './group.js';
import { WalSync, type SyncMode } from './wal-sync.js';

export const PRIORITIES: readonly Priority[] = ['low', 'normal', 'high', 'urgent'];

export interface DestinationOptions {
  maxItems?: number;
  maxBytes?: number;
  overflow?: 'reject' | 'drop-oldest-lowest-priority';
  /** Default time to live of a call, ms; 0: forever. */
  ttlMs?: number;
}

export interface QueueOptions {
  /** Known destinations and their bounds; calls to others are refused. */
  destinations: Record<string, DestinationOptions>;
  /** Bounds of destinations that do not set their own. */
  defaults?: DestinationOptions;
  /** How a call reaches its destination. */
  deliver: Deliverer;
  maxItemBytes?: number;
  backoff?: { baseMs: number; maxMs: number; jitterPercent: number };
  /** Calls per delivery batch and per destination. */
  batchItems?: number;
  /** How long a finished task (and its result) stays readable, ms. */
  keepResultsMs?: number;
  /** Calls in flight per destination; 1 keeps strict order. */
  window?: number;
  /** How often the sync loop looks for due work, ms. */
  tickMs?: number;
  /** Most calls committed in one group transaction. */
  groupMax?: number;
  /**
   * How a group reaches the disk before it is acknowledged: 'off-loop'
   * (default) fdatasyncs the WAL on the thread pool after COMMIT, so the event
   * loop keeps working meanwhile; 'in-commit' lets SQLite sync inside COMMIT
   * (synchronous=FULL). Both acknowledge only what is on disk (wal-sync.ts).
   */
  syncMode?: SyncMode;
  /** Test hook: the fdatasync used in 'off-loop' mode. */
  syncFile?: (fd: number, cb: (err: Error | null) => void) => void;
  /** How payloads and results are packed; falls back to `stored` when the codec lacks it. */
  compression?: Algorithm;
  /**
   * Which codec engine packs: 'auto' (default) is the native one on Node
   * (zstd-napi, lz4-napi) and the component elsewhere; both write the same frames.
   */
  codecEngine?: 'auto' | 'component' | 'native';
  now?: () => number;
  log?: Logger;
}

/** One call to defer. */
export interface DeferredCall {
  destination: string;
  tool: string;
  arguments?: Record<string, unknown>;
  priority?: Priority;
  /** Equal keys to one destination are one call (dedupe, and once-only effect). */
  idempotencyKey?: string;
  ttlMs?: number;
}

export interface Enqueued {
  /** The MCP task id that follows this call. */
  taskId: string;
  id: number;
  /** True when an earlier call with the same key answers for this one. */
  duplicate: boolean;
  /** When it was queued (fresh calls only; a duplicate's row has the first call's time). */
  createdMs?: number;
}

/** Counters for status and /metrics; they count since start. */
export interface QueueCounters {
  enqueued: number;
  duplicates: number;
  rejected: number;
  delivered: number;
  failed: number;
  expired: number;
  evicted: number;
  cancelled: number;
  corrupt: number;
  attempts_failed: number;
}

const DEFAULT_LIMITS: Required<DestinationOptions> = { maxItems: 100_000, maxBytes: 256 << 20, overflow: 'reject', ttlMs: 24 * 3600_000 };

function limitsOf(o: DestinationOptions | undefined, base: Required<DestinationOptions>): QueueLimits {
  const m = { ...base, ...o };
  return { maxItems: m.maxItems, maxBytes: m.maxBytes, overflow: m.overflow, ...(m.ttlMs > 0 ? { defaultTtlMs: m.ttlMs } : {}) };
}

export function taskIdOf(row: { id: number; secret: string }): string {
  return `${row.id}.${row.secret}`;
}

export class OfflineQueue {
  readonly store: QueueStore;
  readonly counters: QueueCounters = { enqueued: 0, duplicates: 0, rejected: 0, delivered: 0, failed: 0, expired: 0, evicted: 0, cancelled: 0, corrupt: 0, attempts_failed: 0 };
  readonly log: Logger;
  readonly now: () => number;
  readonly keepResultsMs: number;
  readonly payloads: Payloads;
  /** The codec algorithm payloads are packed with. */
  readonly algorithm: Algorithm;
  scheduler!: QueueScheduler;
  /** This gateway's persistent id; namespaces the idempotency keys it sends. */
  senderId = '';
  private sync!: Sync;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly groupMax: number;
  private readonly maxItemBytes: number;
  readonly walSync: WalSync;

  constructor(
    db: Db,
    private readonly core: EdgeCore,
    readonly options: QueueOptions,
    codec: EdgeCodec,
  ) {
    this.store = new QueueStore(db);
    this.log = options.log ?? createLogger('warn');
    this.now = options.now ?? Date.now;
    this.keepResultsMs = options.keepResultsMs ?? 24 * 3600_000;
    this.groupMax = options.groupMax ?? 4096;
    this.maxItemBytes = options.maxItemBytes ?? 4 << 20;
    this.walSync = new WalSync(db, options.syncMode ?? 'off-loop', options.syncFile);
    this.algorithm = pickAlgorithm(codec, options.compression ?? 'stored', this.log);
    const algorithm = this.algorithm;
    this.payloads = { pack: (b) => codec.pack(b, { algorithm }), unpack: (f, maxOutput) => codec.unpack(f, { maxOutput }) };
    this.codecEngine = codec.engine;
  }

  /** The codec engine that packs payloads ('native' on Node when zstd-napi loads). */
  readonly codecEngine: EdgeCodec['engine'];

  /** Rebuilds the scheduler from SQLite and starts the sync loop. */
  static async open(db: Db, core: EdgeCore, options: QueueOptions): Promise<OfflineQueue> {
    const codec = await createCodec({ core, engine: options.codecEngine ?? 'auto' });
    const q = new OfflineQueue(db, core, options, codec);
    q.rebuild();
    q.sync = new Sync(q, options.deliver, { batchItems: options.batchItems ?? 64, tickMs: options.tickMs ?? 1000, window: Math.max(1, options.window ?? 1) });
    q.sync.start();
    return q;
  }

  private persistentSeed(): bigint {
    let seed = this.store.getState('queue.seed');
    if (!seed) {
      seed = BigInt('0x' + randomBytes(8).toString('hex')).toString();
      this.store.setState('queue.seed', seed);
    }
    return BigInt(seed);
  }

  private rebuild(): void {
    const base = limitsOf(this.options.defaults, DEFAULT_LIMITS);
    this.scheduler = new QueueScheduler(this.core.exports, {
      defaultLimits: base,
      maxItemBytes: this.maxItemBytes,
      backoff: this.options.backoff ?? { baseMs: 1000, maxMs: 300_000, jitterPercent: 50 },
      seed: this.persistentSeed(),
    });
    this.senderId = this.store.getState('queue.sender_id') ?? randomUUID();
    this.store.setState('queue.sender_id', this.senderId);
    const baseOpts = { ...DEFAULT_LIMITS, ...this.options.defaults };
    for (const [name, o] of Object.entries(this.options.destinations)) this.scheduler.configure(name, limitsOf(o, baseOpts));
    this.loadRows();
    this.scheduler.reserveIdsBelow(this.store.maxId() + 1);
  }

  /**
   * Feeds queued rows to the core as columns, one call per destination and
   * priority per chunk (ids ascending, so every lane stays in order). Rows that
   * cannot load are quarantined and reported.
   */
  private loadRows(): void {
    for (const l of this.store.queuedLanes()) {
      const priority = PRIORITIES[l.priority];
      if (!priority || l.items > 0xffff_ffff) continue;
      try {
        this.scheduler.reserve(l.destination, priority, l.items, l.keyed ?? 0);
      } catch {
        // A bad destination name: its rows are quarantined below.
      }
    }
    const bad: { id: number; why: string }[] = [];
    let groups = new Map<string, { destination: string; priority: Priority; ids: number[]; sizes: number[]; expiresAtMs: number[]; keys: (string | undefined)[] }>();
    let rows = 0;
    const flush = () => {
      for (const g of groups.values()) {
        for (const f of this.scheduler.loadColumns(g.destination, g.priority, g)) bad.push({ id: f.id, why: f.error });
      }
      groups = new Map();
      rows = 0;
    };
    for (const r of this.store.queued()) {
      const priority = PRIORITIES[r.priority];
      if (!priority || !Number.isSafeInteger(r.bytes) || r.bytes < 0 || r.bytes > 0xffff_ffff || typeof r.destination !== 'string') {
        bad.push({ id: r.id, why: `bad priority or size (${String(r.priority)}, ${String(r.bytes)})` });
        continue;
      }
      const gk = `${r.destination}\u0000${priority}`;
      let g = groups.get(gk);
      if (!g) groups.set(gk, (g = { destination: r.destination, priority, ids: [], sizes: [], expiresAtMs: [], keys: [] }));
      g.ids.push(r.id);
      g.sizes.push(r.bytes);
      g.expiresAtMs.push(r.expires_ms ?? 0);
      g.keys.push(r.client_key ? r.idem_key : undefined);
      if (++rows >= 50_000) flush();
    }
    flush();
    this.scheduler.commit();
    if (bad.length > 0) this.quarantine(bad);
  }

  /** Marks unreadable rows failed (kept for inspection, never sent) and says so. */
  quarantine(bad: { id: number; why: string }[]): void {
    const now = this.now();
    this.store.transaction(() => {
      for (const b of bad) this.store.finish(b.id, 'failed', encodeJson(this.payloads, errorResult(`corrupt queue row: ${b.why}`)), `corrupt row: ${b.why}`, now, now + this.keepResultsMs);
    });
    this.counters.corrupt += bad.length;
    for (const b of bad) this.log.error('offline queue: skipped a corrupt row', { id: b.id, reason: b.why });
  }

  /** Defers one call. Resolves once the call is durably in SQLite (fsync'd, group commit). */
  enqueue(call: DeferredCall): Promise<Enqueued> {
    if (this.closed) return Promise.reject(new QueueError('closed', 'The offline queue is closed.'));
    if (!Object.hasOwn(this.options.destinations, call.destination)) {
      return Promise.reject(new QueueError('unknown-destination', `No queue destination "${call.destination}". Configure it under [offline.destinations].`));
    }
    let payload: Uint8Array;
    try {
      // Packed by the core in the group's one admit-framed call.
      // Buffer.from takes small strings from Node's pooled slab: cheaper to make and to collect than TextEncoder's own ArrayBuffer per call.
      payload = Buffer.from(JSON.stringify({ arguments: call.arguments ?? {} }));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ call, payload, resolve, reject });
      if (this.pending.length >= this.groupMax) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every pending call in one transaction; acknowledges them once it is on disk. */
  flush(): void {
    this.flushScheduled = false;
    const group = this.pending;
    this.pending = [];
    if (group.length === 0) return;
    const answers = this.commitGroup(group);
    this.sync.kickFor(new Set(group.map((p) => p.call.destination)));
    if (answers.every((a) => a instanceof Error)) return settleGroup(group, answers);
    this.walSync.durable().then(
      () => settleGroup(group, answers),
      (err: unknown) => {
        // Committed but maybe not on disk: say so rather than acknowledge.
        const error = storageError(err, 'syncing the queue to disk');
        this.log.error('offline queue: could not sync a committed group to disk', { calls: group.length, error: error.message });
        settleGroup(group, group.map(() => error));
      },
    );
  }

  /** Decides and stores one group (see group.ts); a storage failure refuses all of it. */
  private commitGroup(group: Pending[]): Answer[] {
    const now = this.now();
    const answers: (Answer | undefined)[] = new Array(group.length);
    let admitted = false;
    try {
      this.findExisting(group, answers);
      const packed = packGroup(this, group, answers, this.maxItemBytes);
      const out = this.scheduler.admitColumns(columnsOf(group, packed), now);
      admitted = true;
      const exceptions = new Map(out.exceptions.map((e) => [e.index, e.decision]));
      this.walSync.commitUnsynced(() => this.store.transaction(() => applyDecisions(this, group, packed, out.ids, out.expiresAtMs, exceptions, answers, now)));
      this.scheduler.commit();
    } catch (err) {
      if (admitted) this.scheduler.rollback();
      const error = err instanceof QueueError ? err : storageError(err, 'queueing the call');
      this.log.error('offline queue: could not store calls', { calls: group.length, error: error.message });
      return group.map(() => error);
    }
    return answers as Answer[];
  }

  /** An earlier call with the same client key, from SQLite. */
  private findExisting(group: Pending[], answers: (Answer | undefined)[]): void {
    const keyed = new Map<string, { key: string; at: number }[]>();
    group.forEach(({ call }, at) => {
      if (call.idempotencyKey === undefined) return;
      const list = keyed.get(call.destination);
      if (list) list.push({ key: call.idempotencyKey, at });
      else keyed.set(call.destination, [{ key: call.idempotencyKey, at }]);
    });
    for (const [destination, calls] of keyed) {
      const found = this.store.findByKeys(destination, calls.map((c) => c.key));
      for (const { key, at } of calls) {
        const row = found.get(key);
        if (!row) continue;
        this.counters.duplicates += 1;
        answers[at] = { taskId: taskIdOf(row), id: row.id, duplicate: true };
      }
    }
  }

  /** Ends a call the core evicted to make room (inside the group's transaction). */
  evict(id: number, destination: string, now: number): void {
    const msg = `evicted: destination "${destination}" was full (policy drop-oldest-lowest-priority)`;
    this.store.finish(id, 'failed', encodeJson(this.payloads, errorResult(msg)), msg, now, now + this.keepResultsMs);
    this.counters.evicted += 1;
    this.log.warn('offline queue: evicted a call to make room', { id, destination });
  }

  /** A refusal by the core, counted and in words. */
  rejection(r: Extract<Decision, { kind: 'reject' }>['reason'], destination: string): QueueError {
    this.counters.rejected += 1;
    return rejectionError(r, destination);
  }

  /** The task row behind a task id, if the id is genuine. */
  taskRow(taskId: string): TaskRow | undefined {
    const dot = taskId.indexOf('.');
    const id = Number(taskId.slice(0, dot));
    if (dot < 1 || !Number.isSafeInteger(id)) return undefined;
    const row = this.store.task(id);
    return row && row.secret === taskId.slice(dot + 1) ? row : undefined;
  }

  /** The stored outcome of a finished task. */
  taskResult(taskId: string): unknown {
    const row = this.taskRow(taskId);
    const blob = row && this.store.result(row.id);
    return blob ? decodeJson(this.payloads, blob) : undefined;
  }

  /** Cancels a queued call; a call being sent cannot be cancelled. */
  cancel(taskId: string): void {
    const row = this.taskRow(taskId);
    if (!row || row.state !== 'queued') throw new QueueError('not-found', `Task ${taskId} is not queued (unknown, or already finished).`);
    try {
      this.scheduler.cancel(row.id);
    } catch (err) {
      const code = (err as { code?: string }).code === 'in-flight' ? 'in-flight' : 'not-found';
      throw new QueueError(code, (err as Error).message);
    }
    const now = this.now();
    try {
      this.store.transaction(() => this.store.finish(row.id, 'cancelled', encodeJson(this.payloads, errorResult('Cancelled by the client before delivery.')), 'cancelled before delivery', now, now + this.keepResultsMs));
      this.scheduler.commit();
    } catch (err) {
      this.scheduler.rollback();
      throw storageError(err, 'cancelling the call');
    }
    this.counters.cancelled += 1;
  }

  /** A destination's link is back: make it due now and look for work (no waiting out the backoff). */
  wakeDestination(destination: string): void {
    if (this.closed) return;
    this.scheduler.wake(destination, this.now());
    this.sync.forgetWait(destination);
    this.sync.kick();
  }

  /** Sends everything that is due now, ignoring backoff; resolves when done. */
  syncNow(): Promise<SyncReport> {
    return this.sync.now();
  }

  get syncState() {
    return this.sync;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await this.sync.stop();
    await this.walSync.close();
  }
}

function settleGroup(group: Pending[], answers: Answer[]): void {
  for (let i = 0; i < group.length; i++) {
    const a = answers[i]!;
    if (a instanceof Error) group[i]!.reject(a);
    else group[i]!.resolve(a);
  }
}

function rejectionError(r: Extract<Decision, { kind: 'reject' }>['reason'], destination: string): QueueError {
  switch (r.code) {
    case 'full':
      return new QueueError('full', `The queue for "${destination}" is full (${r.items} calls, ${r.bytes} bytes); try again after it syncs, or raise its bounds.`);
    case 'too-large':
      return new QueueError('too-large', `The call's payload (${r.bytes} bytes) exceeds the limit of ${r.limit} bytes.`);
    case 'unpackable':
      return new QueueError('unpackable', `The call's payload could not be packed: ${r.why}.`);
    case 'ids-exhausted':
      return new QueueError('full', 'The queue has handed out every id it can; start with a fresh data directory.');
    default:
      return new QueueError('bad-destination', `Destination names are 1-256 bytes; got "${destination.slice(0, 40)}".`);
  }
}

/** The configured algorithm if the codec can pack with it, else `stored` (said once in the log). */
function pickAlgorithm(codec: EdgeCodec, wanted: Algorithm, log: Logger): Algorithm {
  if (wanted === 'stored') return wanted;
  try {
    codec.pack(new Uint8Array(16), { algorithm: wanted });
    return wanted;
  } catch {
    log.info(`offline queue: the core has no ${wanted} yet; payloads are stored uncompressed`);
    return 'stored';
  }
}
