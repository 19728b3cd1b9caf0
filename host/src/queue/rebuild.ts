// At start the core's queue state is rebuilt from SQLite, the source of
// truth: every queued row is fed to the scheduler, and rows that cannot load
// are quarantined (failed, kept for inspection, never sent) and reported.
// The rebuild runs in steps of LOAD_STEP rows with the event loop free
// between them, after the gateway is up: a deep backlog (a million rows
// after a long outage) does not hold start-up back. Until it is done the
// queue holds enqueues and deliveries back (queue.ts `ready`).
import { randomBytes } from '../crypto.js';
import { PRIORITIES, type Priority } from '../core/queue.js';
import { endTask, type QueueParts } from './parts.js';
import { errorResult } from './payload.js';
import type { QueuedRow, QueueStore } from './store.js';

/** Rows read and fed to the core per step; the event loop runs between steps. */
const LOAD_STEP = 20_000;

/** Lets the event loop run (I/O, timers: /health answers) between two steps. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Lane {
  destination: string;
  priority: Priority;
  ids: number[];
  sizes: number[];
  expiresAtMs: number[];
  keys: (string | undefined)[];
}

/** The seed of the core's jitter and idempotency hash, the same across restarts. */
export function persistentSeed(store: QueueStore): bigint {
  let seed = store.getState('queue.seed');
  if (!seed) {
    seed = BigInt('0x' + randomBytes(8).toString('hex')).toString();
    store.setState('queue.seed', seed);
  }
  return BigInt(seed);
}

/**
 * Feeds queued rows to the core as columns, one call per destination and
 * priority per step (ids ascending, so every lane stays in order), then
 * reserves the ids SQLite already holds. Resolves false if `stopped` said
 * to give up (the queue closed meanwhile).
 */
export async function loadQueuedRows(parts: QueueParts, stopped: () => boolean): Promise<boolean> {
  const { store, scheduler } = parts;
  if (!(await reserveLanes(parts, stopped))) return false;
  const bad: { id: number; why: string }[] = [];
  for (let after = 0; ; ) {
    const rows = store.queuedAfter(after, LOAD_STEP);
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;
    for (const l of lanesOf(rows, bad).values()) {
      for (const f of scheduler.loadColumns(l.destination, l.priority, l)) bad.push({ id: f.id, why: f.error });
    }
    if (rows.length < LOAD_STEP) break;
    await yieldToLoop();
    if (stopped()) return false;
  }
  scheduler.commit();
  if (bad.length > 0) quarantine(parts, bad);
  scheduler.reserveIdsBelow(store.maxId() + 1);
  return true;
}

/** One step's rows as lanes (per destination and priority); unreadable rows go to `bad`. */
function lanesOf(rows: readonly QueuedRow[], bad: { id: number; why: string }[]): Map<string, Lane> {
  const lanes = new Map<string, Lane>();
  for (const r of rows) {
    const priority = PRIORITIES[r.priority];
    if (!priority || !Number.isSafeInteger(r.bytes) || r.bytes < 0 || r.bytes > 0xffff_ffff || typeof r.destination !== 'string') {
      bad.push({ id: r.id, why: `bad priority or size (${String(r.priority)}, ${String(r.bytes)})` });
      continue;
    }
    const key = `${r.destination}\u0000${priority}`;
    let lane = lanes.get(key);
    if (!lane) lanes.set(key, (lane = { destination: r.destination, priority, ids: [], sizes: [], expiresAtMs: [], keys: [] }));
    lane.ids.push(r.id);
    lane.sizes.push(r.bytes);
    lane.expiresAtMs.push(r.expires_ms ?? 0);
    lane.keys.push(r.client_key ? r.idem_key : undefined);
  }
  return lanes;
}

/** Sizes the core's lanes before loading, so a large queue loads without regrowing (counted in steps too). */
async function reserveLanes({ store, scheduler }: QueueParts, stopped: () => boolean): Promise<boolean> {
  const totals = new Map<string, { destination: string; priority: number; items: number; keyed: number }>();
  for (let after = 0; ; ) {
    const step = store.queuedLanesAfter(after, LOAD_STEP);
    for (const l of step.lanes) {
      const key = `${l.destination}\u0000${l.priority}`;
      const t = totals.get(key);
      if (t) {
        t.items += l.items;
        t.keyed += l.keyed ?? 0;
      } else totals.set(key, { ...l, keyed: l.keyed ?? 0 });
    }
    if (step.rows < LOAD_STEP) break;
    after = step.lastId;
    await yieldToLoop();
    if (stopped()) return false;
  }
  for (const l of totals.values()) {
    const priority = PRIORITIES[l.priority];
    if (!priority || l.items > 0xffff_ffff) continue;
    try {
      scheduler.reserve(l.destination, priority, l.items, l.keyed);
    } catch {
      // A bad destination name: its rows are quarantined by the load.
    }
  }
  return true;
}

/** Marks unreadable rows failed (kept for inspection, never sent) and says so. */
function quarantine(parts: QueueParts, bad: { id: number; why: string }[]): void {
  const now = parts.now();
  parts.store.transaction(() => {
    for (const b of bad) endTask(parts, b.id, 'failed', errorResult(`corrupt queue row: ${b.why}`), `corrupt row: ${b.why}`, now);
  });
  parts.counters.corrupt += bad.length;
  for (const b of bad) parts.log.error('offline queue: skipped a corrupt row', { id: b.id, reason: b.why });
}
