// What the offline queue's helpers share. OfflineQueue.open builds these once
// and hands them to each helper (the rebuild, the group commit, the delivery
// loop, the status report) together with whatever that helper alone needs.
// No helper is given the OfflineQueue itself, so none can reach past these
// parts, and the queue keeps the rest of its state to itself.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { QueueScheduler } from '../core/queue.js';
import type { Logger } from '../telemetry/log.js';
import { encodeJson, type Payloads } from './payload.js';
import type { QueueStore, RowState } from './store.js';

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

export function newCounters(): QueueCounters {
  return { enqueued: 0, duplicates: 0, rejected: 0, delivered: 0, failed: 0, expired: 0, evicted: 0, cancelled: 0, corrupt: 0, attempts_failed: 0 };
}

export interface QueueParts {
  /** The SQLite rows: the source of truth. */
  readonly store: QueueStore;
  /**
   * The core's decisions. Each mutating call is applied to the store in one
   * transaction, then committed in the core, or rolled back when it throws.
   */
  readonly scheduler: QueueScheduler;
  /** How payloads and results are packed into rows. */
  readonly payloads: Payloads;
  readonly counters: QueueCounters;
  readonly log: Logger;
  readonly now: () => number;
  /** How long a finished task (and its result) stays readable, ms. */
  readonly keepResultsMs: number;
}

/**
 * Ends a queued row's task with `result`, readable for keepResultsMs (inside
 * the caller's transaction); `message` is the task's status message.
 */
export function endTask(parts: QueueParts, id: number, state: Exclude<RowState, 'queued'>, result: CallToolResult, message: string | null, now: number): void {
  parts.store.finish(id, state, encodeJson(parts.payloads, result), message, now, now + parts.keepResultsMs);
}
