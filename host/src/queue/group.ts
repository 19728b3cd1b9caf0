// Group commit: every call enqueued in the same tick is packed by the codec
// (its native engine on Node: zstd-napi writes the same frames as the
// component), decided by the core in one crossing (admit-columns: a few flat
// arrays, no per-call records or strings), and written in one transaction
// with multi-row INSERTs. Acknowledgements go out only once the group is on
// disk (disk-flush.ts); if the transaction throws, the core rolls back and
// every call of the group is refused.
import { randomBytes } from '../crypto.js';
import { PRIORITIES, type AdmitColumns, type Decision, type Priority } from '../core/queue.js';
import type { DiskFlush } from './disk-flush.js';
import { QueueError, storageError } from './errors.js';
import { endTask, type QueueParts } from './parts.js';
import { errorResult } from './payload.js';
import type { NewRow } from './store.js';

/** One call to defer. */
export interface DeferredCall {
  destination: string;
  tool: string;
  arguments?: Record<string, unknown>;
  priority?: Priority;
  /** Equal keys to one destination are one call (dedupe, and once-only effect). */
  idempotencyKey?: string;
  ttlMs?: number;
  /** The authenticated principal that queued it (tasks are shown only to it); absent: a local caller. */
  owner?: string;
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

export interface GroupLimits {
  /** Most calls committed in one group transaction. */
  groupMax: number;
  /** Largest packed payload the core admits, bytes. */
  maxItemBytes: number;
}

interface Pending {
  call: DeferredCall;
  payload: Uint8Array;
  resolve: (e: Enqueued) => void;
  reject: (err: Error) => void;
}

type Answer = Enqueued | Error;

/** A call that reached the core: its group index and packed frame. */
interface Packed {
  at: number;
  frame: Uint8Array;
}

const PRIORITY_CODE = new Map<string, number>(PRIORITIES.map((p, code) => [p, code]));
const priorityCode = (p: Priority | undefined): number => PRIORITY_CODE.get(p ?? 'normal') ?? 1;

function taskIdOf(row: { id: number; secret: string }): string {
  return `${row.id}.${row.secret}`;
}

export class GroupCommit {
  private pending: Pending[] = [];
  private flushScheduled = false;

  constructor(
    private readonly parts: QueueParts,
    private readonly disk: DiskFlush,
    private readonly limits: GroupLimits,
    /** Told which destinations got calls, after each commit (the delivery loop looks for work). */
    private readonly committed: (destinations: Set<string>) => void,
  ) {}

  /** Adds a call (its JSON payload unpacked) to the next group; resolves once the group is on disk. */
  add(call: DeferredCall, payload: Uint8Array): Promise<Enqueued> {
    return new Promise((resolve, reject) => {
      this.pending.push({ call, payload, resolve, reject });
      if (this.pending.length >= this.limits.groupMax) this.flush();
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
    const answers = this.commit(group);
    this.committed(new Set(group.map((p) => p.call.destination)));
    if (answers.every((a) => a instanceof Error)) return settleGroup(group, answers);
    this.disk.onDisk().then(
      () => settleGroup(group, answers),
      (err: unknown) => {
        // Committed but maybe not on disk: say so rather than acknowledge.
        const error = storageError(err, 'syncing the queue to disk');
        this.parts.log.error('offline queue: could not flush a committed group to disk', { calls: group.length, error: error.message });
        settleGroup(group, group.map(() => error));
      },
    );
  }

  /** Decides and stores one group; a storage failure refuses all of it. */
  private commit(group: Pending[]): Answer[] {
    const { scheduler, store, log } = this.parts;
    const now = this.parts.now();
    const answers: (Answer | undefined)[] = new Array(group.length);
    let admitted = false;
    try {
      this.findExisting(group, answers);
      const packed = this.pack(group, answers);
      const out = scheduler.admitColumns(columnsOf(group, packed), now);
      admitted = true;
      const exceptions = new Map(out.exceptions.map((e) => [e.index, e.decision]));
      this.disk.commitUnflushed(() => store.transaction(() => this.apply(group, packed, out.ids, out.expiresAtMs, exceptions, answers, now)));
      scheduler.commit();
    } catch (err) {
      if (admitted) scheduler.rollback();
      const error = err instanceof QueueError ? err : storageError(err, 'queueing the call');
      log.error('offline queue: could not store calls', { calls: group.length, error: error.message });
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
      const found = this.parts.store.findByKeys(destination, calls.map((c) => c.key));
      for (const { key, at } of calls) {
        const row = found.get(key);
        if (!row) continue;
        this.parts.counters.duplicates += 1;
        answers[at] = { taskId: taskIdOf(row), id: row.id, duplicate: true };
      }
    }
  }

  /** Packs each fresh call; a call the codec refuses (or that is far too large to try) is answered at once. */
  private pack(group: Pending[], answers: (Answer | undefined)[]): Packed[] {
    const packed: Packed[] = [];
    const { maxItemBytes } = this.limits;
    // Refuse before compressing: a huge payload should cost nothing.
    const ceiling = maxItemBytes * 2 + 64;
    for (let i = 0; i < group.length; i++) {
      if (answers[i] !== undefined) continue;
      const payload = group[i]!.payload;
      if (payload.length > ceiling) {
        answers[i] = new QueueError('too-large', `The call's payload (${payload.length} bytes) exceeds the limit of ${maxItemBytes} bytes.`);
        continue;
      }
      try {
        packed.push({ at: i, frame: this.parts.payloads.pack(payload) });
      } catch (err) {
        answers[i] = new QueueError('unpackable', `The call's payload could not be packed: ${(err as Error).message}.`);
      }
    }
    return packed;
  }

  /**
   * Applies the core's decisions inside the open transaction: rows in order,
   * buffered into multi-row INSERTs; a decision that evicts flushes the buffer
   * first (it may evict a row of this very group).
   */
  private apply(group: Pending[], packed: Packed[], ids: BigUint64Array, expires: BigUint64Array, exceptions: Map<number, Decision>, answers: (Answer | undefined)[], now: number): void {
    const { store, counters } = this.parts;
    const secrets = randomHex(16 * packed.length);
    const byKey = new Map<string, Enqueued>();
    let rows: NewRow[] = [];
    for (let k = 0; k < packed.length; k++) {
      const gi = packed[k]!.at;
      const { call } = group[gi]!;
      const d = exceptions.get(k);
      const keyId = call.idempotencyKey === undefined ? undefined : `${call.destination}\u0000${call.idempotencyKey}`;
      if (d && d.kind !== 'admit') {
        answers[gi] = d.kind === 'reject' ? this.rejection(d.reason, call.destination) : this.duplicateOf(keyId === undefined ? undefined : byKey.get(keyId));
        continue;
      }
      if (d && d.evicted.length > 0) {
        store.insertMany(rows);
        rows = [];
        for (const ev of d.evicted) this.evict(ev.id, ev.destination, now);
      }
      const id = Number(ids[k]);
      if (id === 0) throw new Error('the core admitted a call without an id');
      const secret = secrets.slice(16 * k, 16 * k + 16);
      const exp = Number(expires[k]);
      rows.push({ id, destination: call.destination, tool: call.tool, priority: priorityCode(call.priority), idemKey: call.idempotencyKey ?? '', clientKey: call.idempotencyKey !== undefined, secret, payload: packed[k]!.frame, createdMs: now, expiresMs: exp === 0 ? null : exp, owner: call.owner ?? null });
      const e: Enqueued = { taskId: `${id}.${secret}`, id, duplicate: false, createdMs: now };
      if (keyId !== undefined) byKey.set(keyId, e);
      counters.enqueued += 1;
      answers[gi] = e;
    }
    store.insertMany(rows);
  }

  /** Ends a call the core evicted to make room (inside the group's transaction). */
  private evict(id: number, destination: string, now: number): void {
    const msg = `evicted: destination "${destination}" was full (policy drop-oldest-lowest-priority)`;
    endTask(this.parts, id, 'failed', errorResult(msg), msg, now);
    this.parts.counters.evicted += 1;
    this.parts.log.warn('offline queue: evicted a call to make room', { id, destination });
  }

  /** A refusal by the core, counted and in words. */
  private rejection(r: Extract<Decision, { kind: 'reject' }>['reason'], destination: string): QueueError {
    this.parts.counters.rejected += 1;
    return rejectionError(r, destination);
  }

  private duplicateOf(first: Enqueued | undefined): Answer {
    if (!first) return new QueueError('key-conflict', 'This idempotency key collides with a queued call; use another key.');
    this.parts.counters.duplicates += 1;
    return { taskId: first.taskId, id: first.id, duplicate: true };
  }
}

/** The packed calls as the core's columns. */
function columnsOf(group: Pending[], packed: Packed[]): AdmitColumns {
  const n = packed.length;
  const names = new Map<string, number>();
  const c: AdmitColumns = {
    destinations: [],
    destination: new Uint16Array(n),
    priorities: new Uint8Array(n),
    sizes: new Uint32Array(n),
    ttlMs: new BigUint64Array(n),
    keys: '',
    keyLengths: new Uint32Array(n),
  };
  const keys: string[] = [];
  for (let k = 0; k < n; k++) {
    const { call } = group[packed[k]!.at]!;
    let d = names.get(call.destination);
    if (d === undefined) {
      d = c.destinations.push(call.destination) - 1;
      names.set(call.destination, d);
    }
    c.destination[k] = d;
    c.priorities[k] = priorityCode(call.priority);
    c.sizes[k] = packed[k]!.frame.length;
    if (call.ttlMs !== undefined && call.ttlMs > 0) c.ttlMs[k] = BigInt(Math.trunc(call.ttlMs));
    if (call.idempotencyKey !== undefined) {
      keys.push(call.idempotencyKey);
      c.keyLengths[k] = Buffer.byteLength(call.idempotencyKey);
    }
  }
  c.keys = keys.join('');
  return c;
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

/** Task secrets come from a pool of random hex, refilled 8 KB at a time: one RNG call per ~1000 calls, not per group. */
let hexPool = '';
function randomHex(chars: number): string {
  if (hexPool.length < chars) hexPool = randomBytes(Math.max(8192, chars)).toString('hex');
  const out = hexPool.slice(0, chars);
  hexPool = hexPool.slice(chars);
  return out;
}
