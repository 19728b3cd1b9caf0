// Wires the offline queue into a gateway from the [offline] config section.
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { EdgeConfig } from '../config/schema.js';
import type { EdgeCore } from '../core/index.js';
import type { Aggregator } from '../gateway/aggregator/aggregator.js';
import type { RestHandler } from '../gateway/http.js';
import type { CallInterceptor } from '../gateway/mcp-server.js';
import type { Db } from '../storage/database.js';
import type { Logger } from '../telemetry/log.js';
import type { ToolRegistry } from '../tools/registry.js';
import { IdempotencyMemory } from './idempotency.js';
import { queueInterceptor, queueRoutes, queueTaskStore, registerQueueTools } from './mcp.js';
import { mcpHttpDeliverer } from './mcp-deliverer.js';
import { OfflineQueue } from './queue.js';
import { deferralResolver, listedAsDeferrable, MarkedTools, planDestinations, providerDeliverer, wakeOnRecovery } from './destinations.js';

export { OfflineQueue } from './queue.js';
export { QueueError } from './errors.js';
export { queueMetrics, type QueueStatus } from './status.js';
export { IdempotencyMemory, IDEMPOTENCY_META_KEY } from './idempotency.js';
export { DestinationError, type Deliverer } from './delivery.js';

export interface QueueHooks {
  queue: OfflineQueue;
  taskStore: TaskStore;
  intercept: CallInterceptor;
  close(): Promise<void>;
}

export async function startOfflineQueue(config: EdgeConfig, db: Db, core: EdgeCore, log: Logger, tools: ToolRegistry, rest: Map<string, RestHandler>, aggregator: Aggregator): Promise<QueueHooks> {
  const o = config.offline;
  const plan = planDestinations(config);
  const deliverer = mcpHttpDeliverer(plan.urls, config.gateway.request_timeout_ms);
  const deliver = providerDeliverer(plan, aggregator, deliverer.deliver);
  const queue = await OfflineQueue.open(db, core, {
    destinations: plan.bounds,
    defaults: { maxItems: o.queue_size },
    deliver,
    maxItemBytes: o.max_item_bytes,
    backoff: { baseMs: o.retry_base_ms, maxMs: o.sync_interval_seconds * 1000, jitterPercent: o.retry_jitter_percent },
    compression: o.compression === 'none' ? 'stored' : o.compression,
    batchItems: o.batch_size,
    window: o.delivery_window,
    keepResultsMs: o.keep_results_seconds * 1000,
    diskFlush: o.disk_sync,
    log,
  });
  const memory = new IdempotencyMemory(db, o.idempotency_window_seconds * 1000, Date.now, o.idempotency_in_doubt);
  rest.set('GET /v1/idempotency/status', () => ({ repeats_answered: memory.repeats, in_doubt_answered: memory.inDoubt, in_doubt_policy: memory.inDoubtPolicy, record_failures: memory.recordFailures, last_record_error: memory.lastRecordError, window_seconds: o.idempotency_window_seconds }));
  // Tools deferred to a URL get a local entry; an upstream's tools are listed by the upstream itself.
  const viaUrl = Object.fromEntries(Object.entries(o.deferrable_tools).filter(([, d]) => Object.hasOwn(plan.urls, d)));
  registerQueueTools(tools, queue, viaUrl, deliver);
  const marked = new MarkedTools(() => queue.store.getState('queue.marked_tools'), (json) => queue.store.setState('queue.marked_tools', json));
  aggregator.onListChanged((part) => {
    if (part === 'tools') marked.refresh(plan, aggregator);
  });
  wakeOnRecovery(plan, aggregator, (destination) => queue.wakeDestination(destination));
  aggregator.setDeferrable(listedAsDeferrable(config, plan));
  for (const [route, handler] of queueRoutes(queue)) rest.set(route, handler);
  return {
    queue,
    taskStore: queueTaskStore(queue),
    intercept: queueInterceptor(queue, deferralResolver(config, plan, aggregator, marked), memory),
    close: async () => {
      await queue.close();
      await deliverer.close();
    },
  };
}
