// The offline queue's side of queued completions (offline.ts): queuing a REST
// completion under its caller's principal, and GET /v1/completions/task, where
// the caller reads the task's state and, once delivered, the same JSON the
// route would have answered at once.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OfflineQueue } from '../queue/queue.js';
import { taskOwnerOf, toTask } from '../queue/mcp.js';
import type { Principal } from '../security/principal.js';
import { COMPLETION_TOOL, MODELS_DESTINATION, resultUrlOf, type CompletionDeferral } from './offline.js';

const ownerOf = (principal: Principal | undefined): string | undefined => (principal ? taskOwnerOf(principal) : undefined);

/** Queues completions in `queue`; each task belongs to the principal that asked (another's is "not found"). */
export function completionDeferral(queue: OfflineQueue): CompletionDeferral {
  return {
    defer: async (completion, principal, retryAfterMs) => {
      // The cloud just said when to come back: the queue's first try waits for it too.
      if (retryAfterMs !== undefined) queue.holdDestination(MODELS_DESTINATION, retryAfterMs);
      const owner = ownerOf(principal);
      const queued = await queue.enqueue({ destination: MODELS_DESTINATION, tool: COMPLETION_TOOL, arguments: { ...completion }, ...(owner !== undefined ? { owner } : {}) });
      return { taskId: queued.taskId, resultUrl: resultUrlOf(queued.taskId) };
    },
    outcome: (taskId) => {
      const row = queue.taskRow(taskId);
      if (!row || row.destination !== MODELS_DESTINATION) return undefined;
      const result = row.state === 'completed' ? queue.taskResult(taskId)?.structuredContent : undefined;
      return { status: row.state === 'queued' ? 'working' : row.state, ...(result ? { result } : {}), ...(row.message ? { message: row.message } : {}) };
    },
    cancel: (taskId) => queue.cancel(taskId),
  };
}

type Send = (res: ServerResponse, status: number, body: unknown) => void;

/** GET /v1/completions/task?id=<task id>: the task's state, and its result or error once it ended. */
export function completionTaskHandler(queue: OfflineQueue, send: Send) {
  return (req: IncomingMessage, res: ServerResponse, principal: Principal | undefined): void => {
    const taskId = new URL(req.url ?? '/', 'http://gateway').searchParams.get('id') ?? '';
    if (!taskId) return send(res, 400, { error: { code: 'bad_request', message: 'pass the task_id a 202 answer gave as ?id=' } });
    const owner = ownerOf(principal);
    const row = queue.taskRow(taskId, owner);
    if (!row || row.destination !== MODELS_DESTINATION) {
      return send(res, 404, { error: { code: 'not_found', message: `no queued completion "${taskId}": pass the task_id a 202 answer gave as ?id=` } });
    }
    const task = toTask(row);
    const body: Record<string, unknown> = { task_id: task.taskId, status: task.status, created_at: task.createdAt, updated_at: task.lastUpdatedAt, ...(task.statusMessage ? { status_message: task.statusMessage } : {}) };
    if (row.state === 'completed') body.result = queue.taskResult(taskId, owner)?.structuredContent;
    if (row.state === 'failed') body.error = { code: 'completion_failed', message: row.message ?? 'the completion failed' };
    send(res, 200, body);
  };
}
