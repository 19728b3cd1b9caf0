// What the models need to know of queuing a completion, apart from how the
// queue does it (offline.ts, offline-tasks.ts), so service.ts, the npm API's
// queued answers (queued-answer.ts) and the HTTP routes depend on this small
// contract only.
import type { Principal } from '../security/principal.js';
import type { ChatMessage } from './engine.js';

/**
 * A completion as it is stored in the queue: the request, and the JSON its
 * result takes (a route's body, or for the npm API the answer itself).
 */
export interface QueuedCompletion {
  shape: 'chat' | 'mcp' | 'answer';
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  stop?: string[];
}

/** Where a queued completion stands: its result once completed, why it ended otherwise. */
export interface QueuedOutcome {
  status: 'working' | 'completed' | 'failed' | 'cancelled';
  result?: Record<string, unknown>;
  message?: string;
}

/** How the HTTP routes and the npm API queue a completion (set on ModelService by the gateway when the queue runs). */
export interface CompletionDeferral {
  /** Queues it; `retryAfterMs` (the cloud's Retry-After on the refused request) holds every queued completion that long. */
  defer(completion: QueuedCompletion, principal: Principal | undefined, retryAfterMs?: number): Promise<{ taskId: string; resultUrl: string }>;
  /** A task queued by a local caller (the npm API); undefined when there is no such task. */
  outcome(taskId: string): QueuedOutcome | undefined;
  /** Takes a queued task out of the queue; throws when it is being sent or already ended. */
  cancel(taskId: string): void;
}

