// What the queue is doing, for GET /v1/queue/status, the queue_status tool and
// /metrics. The field names are published (REST, tool results): "sync" in
// them is the user's word for delivery, as in POST /v1/queue/sync.
import { writeMetric, type Sample } from '../telemetry/metrics.js';
import type { DeliveryRecord } from './delivery.js';
import type { QueueCounters, QueueParts } from './parts.js';

export interface DestinationStatus {
  destination: string;
  depth: number;
  bytes: number;
  oldest_age_ms: number | null;
  in_flight: number;
  failures: number;
  next_attempt_in_ms: number;
  max_items: number;
  max_bytes: number;
  overflow: string;
  last_sync_ms: number | null;
  last_error: string | null;
  /** Calls it may have in flight now: its adaptive window under the power mode's cap; 1 when ordered (flow.ts). */
  window: number;
}

export interface QueueStatus {
  depth: number;
  bytes: number;
  oldest_age_ms: number | null;
  last_sync_ms: number | null;
  last_error: string | null;
  destinations: DestinationStatus[];
  counters: QueueCounters;
  /** Present while the queued calls are still loading at start (the depth counts what is loaded), or "failed: ..." if the load failed. */
  loading?: true | string;
}

export function queueStatus(parts: QueueParts, delivery: DeliveryRecord, windowOf: (destination: string) => number): QueueStatus {
  const now = parts.now();
  const destinations = parts.scheduler.status().map((l): DestinationStatus => {
    const created = l.oldestId === undefined ? undefined : parts.store.createdMs(l.oldestId);
    const record = delivery.destinations.get(l.destination);
    return {
      destination: l.destination,
      depth: l.items,
      bytes: l.bytes,
      oldest_age_ms: created === undefined ? null : Math.max(0, now - created),
      in_flight: l.inFlight,
      failures: l.failures,
      next_attempt_in_ms: Math.max(0, l.nextAttemptMs - now),
      max_items: l.limits.maxItems,
      max_bytes: l.limits.maxBytes,
      overflow: l.limits.overflow,
      last_sync_ms: record?.lastDeliveryMs ?? null,
      last_error: record?.lastError ?? null,
      window: windowOf(l.destination),
    };
  });
  const ages = destinations.map((d) => d.oldest_age_ms).filter((a): a is number => a !== null);
  return {
    depth: destinations.reduce((n, d) => n + d.depth, 0),
    bytes: destinations.reduce((n, d) => n + d.bytes, 0),
    oldest_age_ms: ages.length > 0 ? Math.max(...ages) : null,
    last_sync_ms: delivery.lastDeliveryMs,
    last_error: delivery.lastError,
    destinations,
    counters: { ...parts.counters },
  };
}

/** The queue's status (OfflineQueue.status()) in the Prometheus text format. */
export function queueMetrics(s: QueueStatus): string {
  const lines: string[] = [];
  const perDestination = (value: (d: (typeof s.destinations)[number]) => number): Sample[] =>
    s.destinations.map((d) => [{ destination: d.destination }, value(d)]);
  writeMetric(lines, 'gauge', 'mcp_edge_queue_depth', 'Calls waiting in the offline queue.', perDestination((d) => d.depth));
  writeMetric(lines, 'gauge', 'mcp_edge_queue_bytes', 'Stored payload bytes waiting.', perDestination((d) => d.bytes));
  writeMetric(lines, 'gauge', 'mcp_edge_queue_oldest_age_seconds', 'Age of the oldest waiting call.', perDestination((d) => (d.oldest_age_ms ?? 0) / 1000));
  writeMetric(lines, 'gauge', 'mcp_edge_queue_consecutive_failures', 'Failed delivery attempts in a row.', perDestination((d) => d.failures));
  for (const [name, v] of Object.entries(s.counters)) {
    writeMetric(lines, 'counter', `mcp_edge_queue_${name}_total`, `Queue ${name} since start.`, [[null, v]]);
  }
  return lines.join('\n') + '\n';
}
