// The offline queue: calls that must wait for a link wait in SQLite, and go out
// once when it returns. The Rust core decides (admission, eviction, TTL, retry
// times, batches); the host applies each decision in one SQLite transaction
// and only then acknowledges, so an acknowledged call survives kill -9.
// OfflineQueue is the front door; its helpers do the work, each given the
// shared parts (parts.ts) and never the queue: rebuild.ts at start,
// group.ts for enqueues, delivery.ts for the delivery loop.
import { randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createCodec, type EdgeCodec } from '../codec/index.js';
import type { Algorithm, EdgeCore } from '../core/index.js';
import { QueueScheduler, type QueueLimits } from '../core/queue.js';
import type { Db } from '../storage/database.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { Delivery, type Deliverer, type DeliveryRecord, type DeliveryReport } from './delivery.js';
import { DiskFlush, type DiskFlushMode, type Fdatasync } from './disk-flush.js';
import { QueueError, storageError } from './errors.js';
import { GroupCommit, type DeferredCall, type Enqueued } from './group.js';
import { endTask, newCounters, type QueueCounters, type QueueParts } from './parts.js';
import { decodeJson, errorResult, type Payloads } from './payload.js';
import { loadQueuedRows, persistentSeed } from './rebuild.js';
import { queueStatus, type QueueStatus } from './status.js';
import { QueueStore, type TaskRow } from './store.js';

export type { DeferredCall, Enqueued } from './group.js';
export type { QueueCounters } from './parts.js';

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
  /** How often the delivery loop looks for due work, ms. */
  tickMs?: number;
  /** Most calls committed in one group transaction. */
  groupMax?: number;
  /**
   * How a group reaches the disk before it is acknowledged: 'off-loop'
   * (default) fdatasyncs the WAL on the thread pool after COMMIT, so the event
   * loop keeps working meanwhile; 'in-commit' lets SQLite flush inside COMMIT
   * (synchronous=FULL). Both acknowledge only what is on disk (disk-flush.ts).
   */
  diskFlush?: DiskFlushMode;
  /** Test hook: the fdatasync used in 'off-loop' mode. */
  fdatasync?: Fdatasync;
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

const DEFAULT_LIMITS: Required<DestinationOptions> = { maxItems: 100_000, maxBytes: 256 << 20, overflow: 'reject', ttlMs: 24 * 3600_000 };
const DEFAULT_BACKOFF = { baseMs: 1000, maxMs: 300_000, jitterPercent: 50 };

function limitsOf(o: DestinationOptions | undefined, base: Required<DestinationOptions>): QueueLimits {
  const m = { ...base, ...o };
  return { maxItems: m.maxItems, maxBytes: m.maxBytes, overflow: m.overflow, ...(m.ttlMs > 0 ? { defaultTtlMs: m.ttlMs } : {}) };
}

export class OfflineQueue {
  private closed = false;

  private constructor(
    private readonly parts: QueueParts,
    private readonly group: GroupCommit,
    private readonly delivery: Delivery,
    /** How committed groups reach the disk (its flush count: tests and benchmarks). */
    readonly diskFlush: DiskFlush,
    private readonly destinations: Record<string, DestinationOptions>,
    /** This gateway's persistent id; namespaces the idempotency keys it sends. */
    readonly senderId: string,
    /** The codec algorithm payloads are packed with. */
    readonly algorithm: Algorithm,
    /** The codec engine that packs payloads ('native' on Node when zstd-napi loads). */
    readonly codecEngine: EdgeCodec['engine'],
  ) {}

  /** Rebuilds the core's state from SQLite and starts the delivery loop. */
  static async open(db: Db, core: EdgeCore, options: QueueOptions): Promise<OfflineQueue> {
    const log = options.log ?? createLogger('warn');
    const codec = await createCodec({ core, engine: options.codecEngine ?? 'auto' });
    const algorithm = pickAlgorithm(codec, options.compression ?? 'stored', log);
    const store = new QueueStore(db);
    const maxItemBytes = options.maxItemBytes ?? 4 << 20;
    const scheduler = new QueueScheduler(core.exports, {
      defaultLimits: limitsOf(options.defaults, DEFAULT_LIMITS),
      maxItemBytes,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      seed: persistentSeed(store),
    });
    const senderId = store.getState('queue.sender_id') ?? randomUUID();
    store.setState('queue.sender_id', senderId);
    const destinationDefaults = { ...DEFAULT_LIMITS, ...options.defaults };
    for (const [name, o] of Object.entries(options.destinations)) scheduler.configure(name, limitsOf(o, destinationDefaults));
    const parts: QueueParts = {
      store,
      scheduler,
      payloads: payloadsOf(codec, algorithm),
      counters: newCounters(),
      log,
      now: options.now ?? Date.now,
      keepResultsMs: options.keepResultsMs ?? 24 * 3600_000,
    };
    loadQueuedRows(parts);
    const delivery = new Delivery(parts, senderId, options.deliver, { batchItems: options.batchItems ?? 64, tickMs: options.tickMs ?? 1000, window: Math.max(1, options.window ?? 1) });
    const diskFlush = new DiskFlush(db, options.diskFlush ?? 'off-loop', options.fdatasync);
    const group = new GroupCommit(parts, diskFlush, { groupMax: options.groupMax ?? 4096, maxItemBytes }, (destinations) => delivery.kickFor(destinations));
    delivery.start();
    return new OfflineQueue(parts, group, delivery, diskFlush, options.destinations, senderId, algorithm, codec.engine);
  }

  /** The SQLite rows (the gateway keeps its memory of marked tools beside them). */
  get store(): QueueStore {
    return this.parts.store;
  }

  /** What the queue counted since start. */
  get counters(): Readonly<QueueCounters> {
    return this.parts.counters;
  }

  /** Calls waiting, over every destination. */
  get depth(): number {
    return this.parts.scheduler.length;
  }

  /** What the delivery loop has done since start. */
  get deliveryRecord(): DeliveryRecord {
    return this.delivery.record;
  }

  /** Depth, age and last delivery per destination, and the counters. */
  status(): QueueStatus {
    return queueStatus(this.parts, this.delivery.record);
  }

  /** Defers one call. Resolves once the call is durably in SQLite (on disk, group commit). */
  enqueue(call: DeferredCall): Promise<Enqueued> {
    if (this.closed) return Promise.reject(new QueueError('closed', 'The offline queue is closed.'));
    if (!Object.hasOwn(this.destinations, call.destination)) {
      return Promise.reject(new QueueError('unknown-destination', `No queue destination "${call.destination}". Configure it under [offline.destinations].`));
    }
    let payload: Uint8Array;
    try {
      // Packed by the group commit, in one pass over the whole group.
      // Buffer.from takes small strings from Node's pooled slab: cheaper to make and to collect than TextEncoder's own ArrayBuffer per call.
      payload = Buffer.from(JSON.stringify({ arguments: call.arguments ?? {} }));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.group.add(call, payload);
  }

  /** The task row behind a task id, if the id is genuine. */
  taskRow(taskId: string): TaskRow | undefined {
    const dot = taskId.indexOf('.');
    const id = Number(taskId.slice(0, dot));
    if (dot < 1 || !Number.isSafeInteger(id)) return undefined;
    const row = this.parts.store.task(id);
    return row && row.secret === taskId.slice(dot + 1) ? row : undefined;
  }

  /** Task rows with ids above `afterId`, oldest first (tasks/list pages). */
  tasksAfter(afterId: number, limit: number): TaskRow[] {
    return this.parts.store.tasksAfter(afterId, limit);
  }

  /** The stored outcome of a finished task. */
  taskResult(taskId: string): CallToolResult | undefined {
    const row = this.taskRow(taskId);
    const blob = row && this.parts.store.result(row.id);
    return blob ? (decodeJson(this.parts.payloads, blob) as CallToolResult) : undefined;
  }

  /** Cancels a queued call; a call being sent cannot be cancelled. */
  cancel(taskId: string): void {
    const { scheduler, store } = this.parts;
    const row = this.taskRow(taskId);
    if (!row || row.state !== 'queued') throw new QueueError('not-found', `Task ${taskId} is not queued (unknown, or already finished).`);
    try {
      scheduler.cancel(row.id);
    } catch (err) {
      const code = (err as { code?: string }).code === 'in-flight' ? 'in-flight' : 'not-found';
      throw new QueueError(code, (err as Error).message);
    }
    const now = this.parts.now();
    try {
      store.transaction(() => endTask(this.parts, row.id, 'cancelled', errorResult('Cancelled by the client before delivery.'), 'cancelled before delivery', now));
      scheduler.commit();
    } catch (err) {
      scheduler.rollback();
      throw storageError(err, 'cancelling the call');
    }
    this.parts.counters.cancelled += 1;
  }

  /** A destination's link is back: make it due now and look for work (no waiting out the backoff). */
  wakeDestination(destination: string): void {
    if (this.closed) return;
    this.parts.scheduler.wake(destination, this.parts.now());
    this.delivery.forgetWait(destination);
    this.delivery.kick();
  }

  /** Sends everything that is due now, ignoring backoff (the queue_sync tool); resolves when done. */
  deliverNow(): Promise<DeliveryReport> {
    return this.delivery.deliverNow();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.group.flush();
    this.closed = true;
    await this.delivery.stop();
    await this.diskFlush.close();
  }
}

function payloadsOf(codec: EdgeCodec, algorithm: Algorithm): Payloads {
  return { pack: (b) => codec.pack(b, { algorithm }), unpack: (f, maxOutput) => codec.unpack(f, { maxOutput }) };
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
