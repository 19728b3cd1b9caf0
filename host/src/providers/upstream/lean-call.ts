// Requests the lean transport (lean-http.ts) sends and answers itself, for
// the hot path: tools/call. Through the SDK's Client each call also passes the
// Protocol's zod guards on the answer, its handler maps and its progress and
// task bookkeeping, which profiling put at several percent of the gateway's
// CPU per call. A direct request keeps what the Client's request does for
// the gateway: the time limit (McpError RequestTimeout), cancellation (the
// caller's signal sends notifications/cancelled and rejects with its reason),
// an error answer as McpError, and McpError ConnectionClosed when the
// transport closes. Its ids are strings of their own ("mcp-edge-N"): the
// Client numbers its requests, so the two never meet. Progress and the
// upstream's own requests (sampling...) still go to the Client and the
// provider, as every message that is not an answer to a direct request.
// The time limit is kept by the process's deadline queue for that limit
// (gateway/deadlines.ts: an upstream's calls share one limit, so their
// deadlines fall in start order), not a setTimeout and clearTimeout per call.
import { McpError, type JSONRPCMessage, type JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { CONNECTION_CLOSED, INTERNAL_ERROR, REQUEST_TIMEOUT } from '../../protocol/jsonrpc.js';
import { deadlinesOf } from '../../gateway/deadlines.js';
// The SDK's McpError, not protocol/mcp-error.ts's: McpError.fromError gives the same errors the SDK's Client would.
import { isMcpError } from '../../protocol/mcp-error.js';

export interface DirectRequestOptions {
  /** The caller's cancellation. */
  signal?: AbortSignal;
  /** The time limit, in ms. */
  timeout: number;
}

/** A transport that answers requests itself (the lean Streamable HTTP one). */
export interface DirectRequests {
  directRequest(request: Omit<JSONRPCRequest, 'jsonrpc' | 'id'>, options: DirectRequestOptions): Promise<unknown>;
}

export function hasDirectRequests(transport: unknown): transport is DirectRequests {
  return typeof (transport as Partial<DirectRequests> | undefined)?.directRequest === 'function';
}

const ID_PREFIX = 'mcp-edge-';

interface Waiter {
  resolve: (result: unknown) => void;
  fail: (error: Error) => void;
}

/** The direct requests of one transport waiting for their answers. */
export class DirectCalls {
  /**
   * By id. A dictionary object rather than a Map: a Map's replaced hash
   * tables keep their entries and point to their successors, so a Map that
   * every call enters and leaves kept whole calls alive for the scavenger
   * until the next full collection (in-flight.ts says more).
   */
  private readonly waiting: Record<string, Waiter> = Object.create(null);
  private counter = 0;

  /**
   * Sends `request` with `send` and resolves with its result; `send` failing
   * rejects with its error (the transport's failure, which the provider reads
   * as a lost connection).
   */
  request(request: Omit<JSONRPCRequest, 'jsonrpc' | 'id'>, options: DirectRequestOptions, send: (message: JSONRPCMessage) => Promise<void>): Promise<unknown> {
    const { signal, timeout } = options;
    signal?.throwIfAborted();
    const id = `${ID_PREFIX}${++this.counter}`;
    const deadlines = deadlinesOf(timeout);
    return new Promise((resolve, reject) => {
      const settle = () => {
        delete this.waiting[id];
        deadlines.release(deadline);
        signal?.removeEventListener('abort', onAbort);
      };
      const cancel = (reason: unknown) => {
        settle();
        send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: String(reason) } }).catch(() => undefined);
        reject(isMcpError(reason) ? reason : new McpError(REQUEST_TIMEOUT, String(reason)));
      };
      const onAbort = () => cancel(signal!.reason);
      this.waiting[id] = {
        resolve: (result) => (settle(), resolve(result)),
        fail: (error) => (settle(), reject(error)),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const deadline = deadlines.add(() => cancel(McpError.fromError(REQUEST_TIMEOUT, 'Request timed out', { timeout })));
      send({ ...request, jsonrpc: '2.0', id } as JSONRPCMessage).catch((err: unknown) => this.waiting[id]?.fail(err as Error));
    });
  }

  /** Whether `message` answers a direct request (it is then settled here, and goes no further). */
  settle(message: JSONRPCMessage): boolean {
    if ('method' in message || !('id' in message) || typeof message.id !== 'string' || !message.id.startsWith(ID_PREFIX)) return false;
    // An answer that came after its request was cancelled or timed out is dropped.
    const waiter = this.waiting[message.id];
    if (!waiter) return true;
    if ('error' in message) waiter.fail(McpError.fromError(message.error.code, message.error.message, message.error.data));
    else if (typeof message.result === 'object' && message.result !== null) waiter.resolve(message.result);
    else waiter.fail(new McpError(INTERNAL_ERROR, `the upstream answered ${message.id} with a result that is not an object`));
    return true;
  }

  /** The transport closed: every request still waiting fails as the Client's would. */
  closeAll(): void {
    const error = McpError.fromError(CONNECTION_CLOSED, 'Connection closed');
    for (const waiter of Object.values(this.waiting)) waiter.fail(error);
  }
}
