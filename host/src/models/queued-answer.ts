// The npm API's side of queued completions: gateway.models.generate with
// `offline: 'queue'` gets a handle on the task instead of a cloud_offline
// error, and `offline: 'wait'` awaits that task's answer. The answer is read
// from the queue's task row (polled: the queue has no completion events, and
// a SQLite read every POLL_MS is cheap next to a model's answer).
import { ModelError } from './engine.js';
import type { CompletionDeferral } from './deferral.js';

const POLL_MS = 250;

/** A completion waiting in the offline queue for the cloud's link (the npm API's `offline: 'queue'`). */
export interface QueuedAnswer<Answer> {
  readonly queued: true;
  /** The task's id, as the REST routes' task_id (GET /v1/completions/task?id= reads it too). */
  readonly taskId: string;
  /** Why it was queued (the cloud_offline refusal). */
  readonly message: string;
  /**
   * Resolves with the answer once the link is back and the cloud answered;
   * rejects with a ModelError when the task failed, was cancelled or expired,
   * or when `signal` aborts the wait (the task stays queued).
   */
  answer(options?: { signal?: AbortSignal }): Promise<Answer>;
  /** Takes the task out of the queue; throws when it is being sent or already ended. */
  cancel(): void;
}

export function queuedAnswer<Answer>(deferral: CompletionDeferral, taskId: string, message: string): QueuedAnswer<Answer> {
  return {
    queued: true,
    taskId,
    message,
    answer: (options = {}) => waitFor<Answer>(deferral, taskId, options.signal),
    cancel: () => deferral.cancel(taskId),
  };
}

async function waitFor<Answer>(deferral: CompletionDeferral, taskId: string, signal: AbortSignal | undefined): Promise<Answer> {
  for (;;) {
    if (signal?.aborted) throw new ModelError('generation_failed', `stopped waiting for queued task ${taskId} (it stays queued)`);
    const outcome = deferral.outcome(taskId);
    if (!outcome) throw new ModelError('generation_failed', `queued task ${taskId} is gone (its result outlived keep_results_seconds)`);
    if (outcome.status === 'completed' && outcome.result) return outcome.result as Answer;
    if (outcome.status !== 'working') throw new ModelError('generation_failed', `queued task ${taskId} ${outcome.status}: ${outcome.message ?? 'no reason recorded'}`);
    await pause(POLL_MS, signal);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
