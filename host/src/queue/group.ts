// Group commit: every call enqueued in the same tick is packed by the codec
// (its native engine on Node: zstd-napi writes the same frames as the
// component), decided by the core in one crossing (admit-columns: a few flat
// arrays, no per-call records or strings), and written in one transaction
// with multi-row INSERTs. Acknowledgements go out only after COMMIT returned
// under synchronous=FULL; if the transaction throws, the core rolls back and
// every call of the group is refused.
import { randomBytes } from 'node:crypto';
import type { AdmitColumns, Decision } from '../core/queue.js';
import { QueueError } from './errors.js';
import type { DeferredCall, Enqueued, OfflineQueue } from './queue.js';
import type { NewRow } from './store.js';

export interface Pending {
  call: DeferredCall;
  payload: Uint8Array;
  resolve: (e: Enqueued) => void;
  reject: (err: Error) => void;
}

export type Answer = Enqueued | Error;

const PRIORITY_CODE: Record<string, number> = { low: 0, normal: 1, high: 2, urgent: 3 };

/** A call that reached the core: its group index and packed frame. */
interface Packed {
  at: number;
  frame: Uint8Array;
}

/** Packs each fresh call; a call the codec refuses (or that is far too large to try) is answered at once. */
export function packGroup(q: OfflineQueue, group: Pending[], answers: (Answer | undefined)[], maxItemBytes: number): Packed[] {
  const packed: Packed[] = [];
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
      packed.push({ at: i, frame: q.payloads.pack(payload) });
    } catch (err) {
      answers[i] = new QueueError('unpackable', `The call's payload could not be packed: ${(err as Error).message}.`);
    }
  }
  return packed;
}

/** The packed calls as the core's columns. */
export function columnsOf(group: Pending[], packed: Packed[]): AdmitColumns {
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
    c.priorities[k] = PRIORITY_CODE[call.priority ?? 'normal'] ?? 1;
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

/**
 * Applies the core's decisions inside the open transaction: rows in order,
 * buffered into multi-row INSERTs; a decision that evicts flushes the buffer
 * first (it may evict a row of this very group).
 */
export function applyDecisions(q: OfflineQueue, group: Pending[], packed: Packed[], ids: BigUint64Array, expires: BigUint64Array, exceptions: Map<number, Decision>, answers: (Answer | undefined)[], now: number): void {
  const secrets = randomHex(16 * packed.length);
  const byKey = new Map<string, Enqueued>();
  let rows: NewRow[] = [];
  for (let k = 0; k < packed.length; k++) {
    const gi = packed[k]!.at;
    const { call } = group[gi]!;
    const d = exceptions.get(k);
    const keyId = call.idempotencyKey === undefined ? undefined : `${call.destination}\u0000${call.idempotencyKey}`;
    if (d && d.kind !== 'admit') {
      answers[gi] = d.kind === 'reject' ? q.rejection(d.reason, call.destination) : duplicateOf(q, keyId === undefined ? undefined : byKey.get(keyId));
      continue;
    }
    if (d && d.evicted.length > 0) {
      q.store.insertMany(rows);
      rows = [];
      for (const ev of d.evicted) q.evict(ev.id, ev.destination, now);
    }
    const id = Number(ids[k]);
    if (id === 0) throw new Error('the core admitted a call without an id');
    const secret = secrets.slice(16 * k, 16 * k + 16);
    const exp = Number(expires[k]);
    rows.push({ id, destination: call.destination, tool: call.tool, priority: PRIORITY_CODE[call.priority ?? 'normal'] ?? 1, idemKey: call.idempotencyKey ?? '', clientKey: call.idempotencyKey !== undefined, secret, payload: packed[k]!.frame, createdMs: now, expiresMs: exp === 0 ? null : exp });
    const e: Enqueued = { taskId: `${id}.${secret}`, id, duplicate: false, createdMs: now };
    if (keyId !== undefined) byKey.set(keyId, e);
    q.counters.enqueued += 1;
    answers[gi] = e;
  }
  q.store.insertMany(rows);
}

/** Task secrets come from a pool of random hex, refilled 8 KB at a time: one RNG call per ~1000 calls, not per group. */
let hexPool = '';
function randomHex(chars: number): string {
  if (hexPool.length < chars) hexPool = randomBytes(Math.max(8192, chars)).toString('hex');
  const out = hexPool.slice(0, chars);
  hexPool = hexPool.slice(chars);
  return out;
}

function duplicateOf(q: OfflineQueue, first: Enqueued | undefined): Answer {
  if (!first) return new QueueError('key-conflict', 'This idempotency key collides with a queued call; use another key.');
  q.counters.duplicates += 1;
  return { taskId: first.taskId, id: first.id, duplicate: true };
}
