// The offline queue as MCP sees it: deferred calls are MCP tasks (protocol
// 2025-11-25: task-augmented tools/call, tasks/get, tasks/result, tasks/cancel,
// tasks/list), so a standard client follows queued work with nothing
// non-standard. Also the queue_status / queue_sync tools and REST routes.
import { z } from 'zod';
import type { Result, Task } from '@modelcontextprotocol/sdk/types.js';
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { CallInterceptor } from '../gateway/mcp-server.js';
import { toMcpError } from '../protocol/errors.js';
import { INVALID_PARAMS, INVALID_REQUEST } from '../protocol/jsonrpc.js';
import type { ToolRegistry } from '../tools/registry.js';
import { QueueError } from './errors.js';
import { DEFERRABLE_TOOL_META_KEY } from './annotation.js';
import type { DeferralResolver } from './destinations.js';
import { IdempotencyMemory } from './idempotency.js';
import { PRIORITIES } from '../core/queue.js';
import type { Deliverer } from './delivery.js';
import type { OfflineQueue } from './queue.js';
import { queueMetrics } from './status.js';
import type { TaskRow } from './store.js';
import type { Principal } from '../security/principal.js';
import { McpError } from '../protocol/mcp-error.js';

/** Client-side `_meta` hints on a deferred call. */
export const PRIORITY_META_KEY = 'dev.mcp-edge/priority';
/** A client without task support marks a call deferrable with `_meta[DEFER_META_KEY] = true` (the key an upstream puts on a deferrable tool). */
export const DEFER_META_KEY = DEFERRABLE_TOOL_META_KEY;
const RELATED_TASK_META_KEY = 'io.modelcontextprotocol/related-task';
const POLL_INTERVAL_MS = 500;

const STATUS: Record<TaskRow['state'], Task['status']> = { queued: 'working', completed: 'completed', failed: 'failed', cancelled: 'cancelled' };

export function toTask(row: TaskRow): Task {
  const message = row.state === 'queued' ? `queued for ${row.destination}${row.attempts > 0 ? `; ${row.message ?? ''}` : ''}` : (row.message ?? undefined);
  return {
    taskId: `${row.id}.${row.secret}`,
    status: STATUS[row.state],
    ttl: row.keep_until_ms === null ? null : Math.max(0, row.keep_until_ms - row.created_ms),
    createdAt: new Date(row.created_ms).toISOString(),
    lastUpdatedAt: new Date(row.updated_ms).toISOString(),
    pollInterval: POLL_INTERVAL_MS,
    ...(message ? { statusMessage: message } : {}),
  };
}

const notFound = (taskId: string) => new McpError(INVALID_PARAMS, `Task not found: ${taskId}`);

/**
 * Whose tasks a caller sees: an authenticated principal (API key, JWT,
 * client certificate) its own only; a local one (stdio, loopback on a
 * gateway without auth) every task, as before tasks had owners.
 */
export function taskOwnerOf(principal: Principal): string | undefined {
  return principal.kind === 'local' ? undefined : principal.id;
}

/**
 * The SDK's TaskStore over the queue's SQLite rows, as `owner` sees them
 * (taskOwnerOf; another principal's task is "not found"). Tasks are created
 * only by deferring a call.
 */
export function queueTaskStore(q: OfflineQueue, owner?: string): TaskStore {
  return {
    createTask: () => Promise.reject(new McpError(INVALID_REQUEST, 'Only deferrable tools run as tasks on this gateway.')),
    getTask: async (taskId) => {
      const row = q.taskRow(taskId, owner);
      return row ? toTask(row) : null;
    },
    storeTaskResult: () => Promise.reject(new McpError(INVALID_REQUEST, 'Task results come from delivery.')),
    getTaskResult: async (taskId) => {
      const result = q.taskResult(taskId, owner);
      if (result === undefined) throw notFound(taskId);
      return result as Result;
    },
    updateTaskStatus: async (taskId, status) => {
      if (status !== 'cancelled') throw new McpError(INVALID_REQUEST, 'Only cancellation can change a deferred task.');
      await q.ready;
      try {
        q.cancel(taskId, owner);
      } catch (err) {
        if (err instanceof QueueError) throw toMcpError(err);
        throw err;
      }
    },
    listTasks: async (cursor) => {
      const after = cursor === undefined ? 0 : Number(cursor);
      if (!Number.isSafeInteger(after) || after < 0) throw new McpError(INVALID_PARAMS, 'Bad cursor.');
      const rows = q.tasksAfter(after, 100, owner);
      const last = rows.at(-1);
      return { tasks: rows.map(toTask), ...(rows.length === 100 && last ? { nextCursor: String(last.id) } : {}) };
    },
  };
}

/**
 * Defers task-augmented (or client-marked) calls to deferrable tools; runs
 * calls that carry an idempotency key (from a peer's queue) once per key.
 * `deferrable` says which tools defer and where: a resolver, or a plain map
 * of tool name -> destination. `owner` (taskOwnerOf) is recorded on the
 * calls it queues.
 */
export function queueInterceptor(q: OfflineQueue, deferrable: DeferralResolver | Record<string, string>, memory: IdempotencyMemory, owner?: string): CallInterceptor {
  const resolve: DeferralResolver =
    typeof deferrable === 'function' ? deferrable : (name) => (Object.hasOwn(deferrable, name) ? { destination: deferrable[name]!, tool: name } : undefined);
  return async (request, run) => {
    const { name, arguments: args, task, _meta: meta } = request.params;
    const deferral = task || meta?.[DEFER_META_KEY] === true ? resolve(name) : undefined;
    if (deferral) {
      const { destination } = deferral;
      const ttlMs = task?.ttl;
      const row = await defer(q, { destination, tool: deferral.tool, arguments: args ?? {}, meta, ...(ttlMs ? { ttlMs } : {}), ...(owner !== undefined ? { owner } : {}) });
      if (task) return { task: toTask(row) };
      // No task support on the client: a plain result that names the task.
      const taskId = `${row.id}.${row.secret}`;
      return {
        content: [{ type: 'text', text: `Queued for ${destination} as task ${taskId}; it is delivered once when the link allows. Follow it with tasks/get.` }],
        structuredContent: { taskId, status: 'working', destination },
        _meta: { [RELATED_TASK_META_KEY]: { taskId } },
      };
    }
    const key = IdempotencyMemory.keyOf(meta);
    return key === undefined ? run() : memory.run(key, run);
  };
}

async function defer(q: OfflineQueue, c: { destination: string; tool: string; arguments: Record<string, unknown>; meta: Record<string, unknown> | undefined; ttlMs?: number; owner?: string }): Promise<TaskRow> {
  const priority = PRIORITIES.find((p) => p === c.meta?.[PRIORITY_META_KEY]) ?? 'normal';
  const clientKey = IdempotencyMemory.keyOf(c.meta);
  // Keys are per owner: another principal's equal key is another call, never a way to its task.
  const idempotencyKey = clientKey !== undefined && c.owner !== undefined ? JSON.stringify([c.owner, clientKey]) : clientKey;
  try {
    const e = await q.enqueue({ destination: c.destination, tool: c.tool, arguments: c.arguments, priority, idempotencyKey, ...(c.ttlMs ? { ttlMs: c.ttlMs } : {}), ...(c.owner !== undefined ? { owner: c.owner } : {}) });
    // A fresh call's task is known without reading it back; a duplicate's is the first call's row.
    if (!e.duplicate && e.createdMs !== undefined) return freshRow(e.id, e.taskId, c.destination, c.tool, e.createdMs, c.owner);
    const row = q.taskRow(e.taskId, c.owner);
    if (!row) throw new Error('a queued task vanished');
    return row;
  } catch (err) {
    if (err instanceof QueueError) throw toMcpError(new QueueError(err.code, `Could not queue the call (${err.code}): ${err.message}`));
    throw err;
  }
}

function freshRow(id: number, taskId: string, destination: string, tool: string, createdMs: number, owner: string | undefined): TaskRow {
  const secret = taskId.slice(taskId.indexOf('.') + 1);
  return { id, state: 'queued', destination, tool, secret, created_ms: createdMs, updated_ms: createdMs, expires_ms: null, attempts: 0, message: null, keep_until_ms: null, owner: owner ?? null };
}

/** Registers deferrable tools (direct when called plainly, queued when called as a task) and the queue tools. */
export function registerQueueTools(registry: ToolRegistry, q: OfflineQueue, deferrable: Record<string, string>, deliver: Deliverer): void {
  for (const [tool, destination] of Object.entries(deferrable)) {
    registry.register({
      name: tool,
      description: `Runs "${tool}" on ${destination}. Call it as a task to have it queued while the link is down and delivered once when it returns.`,
      input: z.object({}).passthrough(),
      execution: { taskSupport: 'optional' },
      handler: async (args, ctx) => {
        try {
          return await deliver(destination, { tool, arguments: args, idempotencyKey: `direct:${crypto.randomUUID()}` }, ctx.signal);
        } catch (err) {
          return { isError: true, content: [{ type: 'text', text: `${destination} is unreachable (${(err as Error).message}). Call ${tool} as a task to queue it until the link returns.` }] };
        }
      },
    });
  }
  registry.register({
    name: 'queue_status',
    description: 'The offline queue: depth, bytes and oldest age per destination, last sync and last error.',
    input: z.object({}),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: () => {
      const s = q.status();
      return { content: [{ type: 'text', text: JSON.stringify(s) }], structuredContent: s as unknown as Record<string, unknown> };
    },
  });
  registry.register({
    name: 'queue_sync',
    description: 'Sends every queued call now, ignoring backoff; reports how many were delivered.',
    input: z.object({}),
    annotations: { readOnlyHint: false, openWorldHint: true },
    handler: async () => {
      const r = await q.deliverNow();
      return { content: [{ type: 'text', text: JSON.stringify(r) }], structuredContent: r as unknown as Record<string, unknown> };
    },
  });
}

/** REST: GET /v1/queue/status, POST /v1/queue/sync, GET /v1/queue/metrics (Prometheus text as a string field). */
export function queueRoutes(q: OfflineQueue): Map<string, () => unknown> {
  return new Map<string, () => unknown>([
    ['GET /v1/queue/status', () => q.status()],
    ['POST /v1/queue/sync', async () => ({ ...(await q.deliverNow()), status: q.status() })],
    ['GET /v1/queue/metrics', () => ({ prometheus: queueMetrics(q.status()) })],
  ]);
}
