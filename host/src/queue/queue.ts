// The offline queue: calls that must wait for a link wait in SQLite, and go out
// once when it returns. The Rust core decides (admission, eviction, TTL, retry
// times, batches); the host applies each decision in one SQLite transaction
// and only then acknowledges, so an acknowledged call survives kill -9.
// OfflineQueue is the front door; its helpers do the work, each given the
// shared parts (parts.ts) and never the queue: rebuild.ts at start,
// group.ts for enqueues, delivery.ts for the delivery loop.
import { randomUUID } from '../crypto.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createCodec, type EdgeCodec } from '../codec/index.js';
import type { Algorithm, EdgeCore } from '../core/index.js';
import { QueueScheduler, type QueueLimits } from '../core/queue.js';
import type { Db } from '../storage/database.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { Delivery, type BatchDeliverer, type Deliverer, type DeliveryRecord, type DeliveryReport } from './delivery.js';
import type { DeliveryPacing, FlowSettings } from './flow.js';
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
  /** Most calls in flight to it (the adaptive window's ceiling); default: the queue's `window`. */
  window?: number;
  /** Strict order: one call at a time, whatever the window (flow.ts). */
  ordered?: boolean;
  /** Several calls per exchange (a JSON-RPC batch) where the destination takes them; default true. */
  batch?: boolean;
}

type Limits = Required<Omit<DestinationOptions, 'window' | 'ordered' | 'batch'>>;

export interface QueueOptions {
  /** Known destinations and their bounds; calls to others are refused. */
  destinations: Record<string, DestinationOptions>;
  /** Bounds of destinations that do not set their own. */
  defaults?: DestinationOptions;
  /** How a call reaches its destination. */
  deliver: Deliverer;
  /** How several calls reach a destination in one exchange, where it takes JSON-RPC batches. */
  deliverMany?: BatchDeliverer;
  maxItemBytes?: number;
  backoff?: { baseMs: number; maxMs: number; jitterPercent: number };
  /** Calls per delivery batch and per destination. */
  batchItems?: number;
  /** How long a finished task (and its result) stays readable, ms. */
  keepResultsMs?: number;
  /** Calls in flight per destination unless it sets its own; 1 keeps strict order. */
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

const DEFAULT_LIMITS: Limits = { maxItems: 100_000, maxBytes: 256 << 20, overflow: 'reject', ttlMs: 24 * 3600_000 };
const DEFAULT_BACKOFF = { baseMs: 1000, maxMs: 300_000, jitterPercent: 50 };

function limitsOf(o: DestinationOptions | undefined, base: Limits): QueueLimits {
  const m = { ...base, ...o };
  return { maxItems: m.maxItems, maxBytes: m.maxBytes, overflow: m.overflow, ...(m.ttlMs > 0 ? { defaultTtlMs: m.ttlMs } : {}) };
}

export class OfflineQueue {
  private closed = false;
  private loaded = false;
  private loadError: QueueError | undefined;
  /**
   * Resolves once the queued rows are loaded from SQLite (rebuild.ts; in the
   * background, so start-up does not wait for a deep backlog). Enqueues and
   * deliveries wait for it; it never rejects (a failed load is reported by
   * enqueue and status).
   */
  readonly ready: Promise<void>;

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
    private readonly codec: EdgeCodec,
  ) {
    this.ready = this.load();
  }

  /** Rebuilds the core's state from SQLite in steps, then starts the delivery loop. */
  private async load(): Promise<void> {
    const t0 = performance.now();
    try {
      if (!(await loadQueuedRows(this.parts, () => this.closed))) return;
    } catch (err) {
      this.loadError = storageError(err, 'loading the queued calls');
      this.parts.log.error('offline queue: loading the queued calls failed; the queue takes no calls until restart', { error: (err as Error).message });
      return;
    }
    this.loaded = true;
    this.parts.log.debug('offline queue: loaded', { depth: this.depth, ms: Math.round(performance.now() - t0) });
    this.delivery.start();
  }

  /** Rebuilds the core's state from SQLite and starts the delivery loop. */
  static async open(db: Db, core: EdgeCore, options: QueueOptions): Promise<OfflineQueue> {
    const log = options.log ?? createLogger('warn');
    const codec = await createCodec({ core, engine: options.codecEngine ?? 'auto' });
    // Asked of the component (the engines pack the same algorithms): the native one then loads with the first payload, not at open.
    const algorithm = pickAlgorithm(await createCodec({ core, engine: 'component' }), options.compression ?? 'stored', log);
    const store = new QueueStore(db);
    const maxItemBytes = options.maxItemBytes ?? 4 << 20;
    const scheduler = new QueueScheduler(core.exports, {
      defaultLimits: limitsOf(options.defaults, DEFAULT_LIMITS),
      maxItemBytes,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      seed: persistentSeed(store),
    });
    // Written once, when first made: a write on every open would cost a synchronous commit at each start.
    let senderId = store.getState('queue.sender_id');
    if (senderId === undefined) {
      senderId = randomUUID();
      store.setState('queue.sender_id', senderId);
    }
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
    const delivery = new Delivery(parts, senderId, options.deliver, { batchItems: options.batchItems ?? 64, tickMs: options.tickMs ?? 1000, ...flowsOf(options), ...(options.deliverMany ? { deliverMany: options.deliverMany } : {}) });
    const diskFlush = new DiskFlush(db, options.diskFlush ?? 'off-loop', options.fdatasync);
    const group = new GroupCommit(parts, diskFlush, { groupMax: options.groupMax ?? 4096, maxItemBytes }, (destinations) => delivery.kickFor(destinations));
    return new OfflineQueue(parts, group, delivery, diskFlush, options.destinations, senderId, algorithm, codec);
  }

  /** The codec engine that packs payloads ('native' on Node when zstd-napi loads; asking loads it). */
  get codecEngine(): EdgeCodec['engine'] {
    return this.codec.engine;
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
    const s = queueStatus(this.parts, this.delivery.record, (d) => this.delivery.windowNow(d));
    if (this.loaded) return s;
    // Still loading: the depth counts only what is loaded so far.
    return { ...s, loading: this.loadError ? `failed: ${this.loadError.message}` : true };
  }

  /** Defers one call. Resolves once the call is durably in SQLite (on disk, group commit). */
  enqueue(call: DeferredCall): Promise<Enqueued> {
    if (this.closed) return Promise.reject(new QueueError('closed', 'The offline queue is closed.'));
    if (this.loadError) return Promise.reject(this.loadError);
    // Until the backlog is loaded the core cannot check limits and keys: wait for it.
    if (!this.loaded) return this.ready.then(() => this.enqueue(call));
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

  /**
   * The task row behind a task id, if the id is genuine and, with `owner`
   * (an authenticated principal's id), that principal queued it. Without
   * `owner` (a local caller) every task is visible, as before owners.
   */
  taskRow(taskId: string, owner?: string): TaskRow | undefined {
    const dot = taskId.indexOf('.');
    const id = Number(taskId.slice(0, dot));
    if (dot < 1 || !Number.isSafeInteger(id)) return undefined;
    const row = this.parts.store.task(id);
    if (!row || row.secret !== taskId.slice(dot + 1)) return undefined;
    return owner === undefined || row.owner === owner ? row : undefined;
  }

  /** Task rows with ids above `afterId`, oldest first (tasks/list pages); with `owner`, only its own. */
  tasksAfter(afterId: number, limit: number, owner?: string): TaskRow[] {
    return this.parts.store.tasksAfter(afterId, limit, owner);
  }

  /** The stored outcome of a finished task (of `owner`'s, when given). */
  taskResult(taskId: string, owner?: string): CallToolResult | undefined {
    const row = this.taskRow(taskId, owner);
    const blob = row && this.parts.store.result(row.id);
    return blob ? (decodeJson(this.parts.payloads, blob) as CallToolResult) : undefined;
  }

  /** Cancels a queued call (of `owner`'s, when given); a call being sent cannot be cancelled. */
  cancel(taskId: string, owner?: string): void {
    const { scheduler, store } = this.parts;
    if (!this.loaded) throw new QueueError('loading', 'The offline queue is still loading its queued calls; try again in a moment (or await queue.ready).');
    const row = this.taskRow(taskId, owner);
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

  /**
   * The destination asked to be left alone for `waitMs` (an HTTP Retry-After
   * heard outside a delivery, e.g. by the request that was then queued): no
   * delivery to it before then, at most offline.sync_interval_seconds.
   */
  holdDestination(destination: string, waitMs: number): void {
    if (this.closed) return;
    const due = this.parts.scheduler.hold(destination, waitMs, this.parts.now());
    if (due !== undefined) this.delivery.holdUntil(destination, due);
  }

  /** A destination's link is back: make it due now and look for work (no waiting out the backoff). */
  wakeDestination(destination: string): void {
    if (this.closed) return;
    this.parts.scheduler.wake(destination, this.parts.now());
    this.delivery.forgetWait(destination);
    this.delivery.kick();
  }


  /** Sends everything that is due now, ignoring backoff (the queue_sync tool); resolves when done. */
  async deliverNow(): Promise<DeliveryReport> {
    await this.ready;
    return this.delivery.deliverNow();
  }

  /**
   * How eagerly the delivery loop sends (the one pacing knob, flow.ts; the
   * power mode sets it): how often it looks by itself, the pause before new
   * calls go, a cap on every destination's window. fullSpeed(queue.tickMs)
   * is the default.
   */
  setDeliveryPacing(pacing: DeliveryPacing): void {
    this.delivery.setPacing(pacing);
  }

  /** The pacing in force. */
  get deliveryPacing(): Readonly<DeliveryPacing> {
    return this.delivery.currentPacing;
  }

  /** The delivery loop's own period (options.tickMs): full speed's tickMs. */
  get tickMs(): number {
    return this.delivery.tickMs;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.group.flush();
    this.closed = true;
    await this.ready;
    await this.delivery.stop();
    await this.diskFlush.close();
  }
}

/** Each destination's window and order (its own, else the queue's window, unordered). */
function flowsOf(options: QueueOptions): { flowOf: (destination: string) => FlowSettings; maxInFlight: number } {
  const fallback = Math.max(1, options.window ?? 1);
  const flowOf = (destination: string): FlowSettings => {
    const o = Object.hasOwn(options.destinations, destination) ? options.destinations[destination] : undefined;
    return { window: Math.max(1, o?.window ?? fallback), ordered: o?.ordered ?? false, batch: o?.batch ?? true };
  };
  const names = Object.keys(options.destinations);
  const maxInFlight = names.reduce((n, d) => n + flowOf(d).window, fallback);
  return { flowOf, maxInFlight };
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
