// What the models need to know of queuing a completion, apart from how the
// queue does it (offline.ts, offline-tasks.ts), so service.ts and the HTTP
// routes depend on this small contract only.
import type { Principal } from '../security/principal.js';
import type { ChatMessage } from './engine.js';

/** A REST completion as it is stored in the queue: the request, and which route's JSON its result takes. */
export interface QueuedCompletion {
  shape: 'chat' | 'mcp';
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

/** How the HTTP routes queue a completion (set on ModelService by the gateway when the queue runs). */
export interface CompletionDeferral {
  defer(completion: QueuedCompletion, principal: Principal | undefined): Promise<{ taskId: string; resultUrl: string }>;
}

