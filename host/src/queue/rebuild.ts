// At start the core's queue state is rebuilt from SQLite, the source of
// truth: every queued row is fed to the scheduler, and rows that cannot load
// are quarantined (failed, kept for inspection, never sent) and reported.
import { randomBytes } from 'node:crypto';
import { PRIORITIES, type Priority } from '../core/queue.js';
import { endTask, type QueueParts } from './parts.js';
import { errorResult } from './payload.js';
import type { QueueStore } from './store.js';

/** Rows fed to the core per crossing while loading. */
const LOAD_CHUNK = 50_000;

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
 * priority per chunk (ids ascending, so every lane stays in order), then
 * reserves the ids SQLite already holds.
 */
export function loadQueuedRows(parts: QueueParts): void {
  const { store, scheduler } = parts;
  reserveLanes(parts);
  const bad: { id: number; why: string }[] = [];
  let lanes = new Map<string, Lane>();
  let rows = 0;
  const flush = () => {
    for (const l of lanes.values()) {
      for (const f of scheduler.loadColumns(l.destination, l.priority, l)) bad.push({ id: f.id, why: f.error });
    }
    lanes = new Map();
    rows = 0;
  };
  for (const r of store.queued()) {
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
    if (++rows >= LOAD_CHUNK) flush();
  }
  flush();
  scheduler.commit();
  if (bad.length > 0) quarantine(parts, bad);
  scheduler.reserveIdsBelow(store.maxId() + 1);
}

/** Sizes the core's lanes before loading, so a large queue loads without regrowing. */
function reserveLanes({ store, scheduler }: QueueParts): void {
  for (const l of store.queuedLanes()) {
    const priority = PRIORITIES[l.priority];
    if (!priority || l.items > 0xffff_ffff) continue;
    try {
      scheduler.reserve(l.destination, priority, l.items, l.keyed ?? 0);
    } catch {
      // A bad destination name: its rows are quarantined by the load.
    }
  }
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
