// Wires the offline queue into a gateway, from its resolved settings (config/resolve.ts).
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { QueueSettings } from '../config/resolve.js';
import type { EdgeCore } from '../core/index.js';
import type { Aggregator } from '../gateway/aggregator/aggregator.js';
import type { RouteRegistry } from '../gateway/routes.js';
import type { CallInterceptor } from '../gateway/mcp-server.js';
import type { Db } from '../storage/database.js';
import type { Principal } from '../security/principal.js';
import type { Logger } from '../telemetry/log.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { DeliveryCall } from './delivery.js';
import { DiskFlush } from './disk-flush.js';
import { IdempotencyMemory } from './idempotency.js';
import { queueInterceptor, queueRoutes, queueTaskStore, registerQueueTools, taskOwnerOf } from './mcp.js';
import { mcpHttpDeliverer } from './mcp-deliverer.js';
import { OfflineQueue } from './queue.js';
import { deferralResolver, listedAsDeferrable, MarkedTools, planDestinations, providerDeliverer, wakeOnRecovery } from './destinations.js';

export { OfflineQueue } from './queue.js';
export { QueueError } from './errors.js';
export { queueMetrics, type QueueStatus } from './status.js';
export { IdempotencyMemory, IDEMPOTENCY_META_KEY } from './idempotency.js';
export { DestinationError, type Deliverer } from './delivery.js';

/**
 * A destination served inside this gateway (the models, models/offline.ts):
 * its calls wait in the queue like any others and are delivered by `deliver`.
 */
export interface LocalDestination {
  deliver(call: DeliveryCall, signal: AbortSignal): Promise<CallToolResult>;
  /** Tools whose task-augmented (or client-marked) calls defer to it. */
  tools: readonly string[];
}

export interface QueueHooks {
  queue: OfflineQueue;
  /** The task store and call interceptor of one client session: `principal` sees and owns only its own tasks (mcp.ts taskOwnerOf). */
  forPrincipal(principal: Principal): { taskStore: TaskStore; intercept: CallInterceptor };
  /**
   * Runs a call that may carry an idempotency key (a peer's queue delivering
   * over the mesh) once per key within `scope` (the calling peer): a repeat
   * gets the first result. A call without a key just runs.
   */
  runOnce(scope: string, meta: Record<string, unknown> | undefined, run: () => Promise<CallToolResult>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** `fetchOf`: the fetch of each URL destination with TLS settings of its own (by destination name). `local`: destinations served in this gateway, by name. */
export async function startOfflineQueue(settings: QueueSettings, db: Db, core: EdgeCore, log: Logger, tools: ToolRegistry, rest: RouteRegistry, aggregator: Aggregator, fetchOf: Readonly<Record<string, FetchLike>> = {}, local: Readonly<Record<string, LocalDestination>> = {}): Promise<QueueHooks> {
  const s = settings;
  const plan = planDestinations(s);
  for (const name of Object.keys(local)) plan.bounds[name] ??= {};
  const deliverer = mcpHttpDeliverer(plan.urls, s.deliveryTimeoutMs, fetchOf);
  const remote = providerDeliverer(plan, aggregator, deliverer.deliver);
  const deliver: typeof remote = (destination, call, signal) => (Object.hasOwn(local, destination) ? local[destination]!.deliver(call, signal) : remote(destination, call, signal));
  const queue = await OfflineQueue.open(db, core, {
    destinations: plan.bounds,
    defaults: { maxItems: s.defaultMaxItems },
    deliver,
    deliverMany: deliverer.deliverMany,
    maxItemBytes: s.maxItemBytes,
    backoff: s.backoff,
    compression: s.compression,
    batchItems: s.batchItems,
    window: s.window,
    keepResultsMs: s.keepResultsMs,
    diskFlush: s.diskSync,
    log,
  });
  // Its records are written as a group and flushed off the loop, as the queue's own enqueues are.
  const recordFlush = new DiskFlush(db, s.diskSync);
  const memory = new IdempotencyMemory(db, s.idempotency.windowMs, Date.now, s.idempotency.inDoubt, recordFlush);
  rest.set('GET /v1/idempotency/status', () => ({ repeats_answered: memory.repeats, in_doubt_answered: memory.inDoubt, in_doubt_policy: memory.inDoubtPolicy, record_failures: memory.recordFailures, last_record_error: memory.lastRecordError, window_seconds: s.idempotency.windowMs / 1000 }));
  // Tools deferred to a URL get a local entry; an upstream's tools are listed by the upstream itself.
  const viaUrl = Object.fromEntries(Object.entries(s.deferrableTools).filter(([, d]) => Object.hasOwn(plan.urls, d)));
  registerQueueTools(tools, queue, viaUrl, deliver);
  const marked = new MarkedTools(() => queue.store.getState('queue.marked_tools'), (json) => queue.store.setState('queue.marked_tools', json));
  aggregator.onListChanged((part) => {
    if (part === 'tools') marked.refresh(plan, aggregator);
  });
  wakeOnRecovery(plan, aggregator, (destination) => queue.wakeDestination(destination));
  aggregator.setDeferrable(listedAsDeferrable(s, plan));
  for (const [route, handler] of queueRoutes(queue)) rest.set(route, handler);
  const localTools = new Map(Object.entries(local).flatMap(([destination, d]) => d.tools.map((tool) => [tool, destination] as const)));
  const configured = deferralResolver(s, plan, aggregator, marked);
  const resolver: typeof configured = (name) => {
    const destination = localTools.get(name);
    return destination !== undefined ? { destination, tool: name } : configured(name);
  };
  return {
    queue,
    forPrincipal: (principal) => {
      const owner = taskOwnerOf(principal);
      return { taskStore: queueTaskStore(queue, owner), intercept: queueInterceptor(queue, resolver, memory, owner) };
    },
    runOnce: (scope, meta, run) => {
      const key = IdempotencyMemory.keyOf(meta);
      return key === undefined ? run() : memory.run(JSON.stringify([scope, key]), run);
    },
    close: async () => {
      await queue.close();
      await deliverer.close();
      await recordFlush.close();
    },
  };
}
