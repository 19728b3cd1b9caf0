// Routed tool calls: the core's router orders the replicas; an idempotent call
// that fails or times out moves down that order, a non-idempotent one never
// retries silently. Every attempt feeds the router's statistics.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { CoreRouter, Outcome } from '../../core/router.js';
import { CoreError } from '../../core/errors.js';
import { CONNECTION_CLOSED, INTERNAL_ERROR, PROVIDER_UNAVAILABLE, REQUEST_TIMEOUT } from '../../protocol/jsonrpc.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../protocol/json-depth.js';
import { ProviderUnavailableError, type Provider, type ProviderCallContext } from '../../providers/provider.js';
import type { Logger } from '../../telemetry/log.js';
import { McpError, isMcpError } from '../../protocol/mcp-error.js';

export interface Replica {
  provider: Provider;
  /** The provider's router handle. */
  handle: number;
  /** The name the provider knows the tool by. */
  name: string;
  idempotent: boolean;
}

export interface ToolRoute {
  /** Public name. */
  name: string;
  /** The tool's router handle. */
  handle: number;
  /** Replicas by provider handle. */
  replicas: Map<number, Replica>;
}

/** How an error counts for the provider's health; `answered` means the provider replied with an error. */
export function outcomeOf(err: unknown): Outcome | 'answered' {
  if (err instanceof ProviderUnavailableError) return 'error';
  if (isMcpError(err)) {
    if (err.code === REQUEST_TIMEOUT) return 'timeout';
    if (err.code === CONNECTION_CLOSED) return 'error';
    return 'answered';
  }
  return 'error';
}

function unavailable(route: ToolRoute, why: string): McpError {
  return new McpError(PROVIDER_UNAVAILABLE, `Tool "${route.name}" is unavailable: ${why}. It comes back on its own when its provider recovers; the resource mcp-edge://providers shows their health.`);
}

/**
 * An answer as it is, or an internal error when it nests too deep to pass on:
 * whatever handles it next may recurse into it (protocol/json-depth.ts). The
 * provider answered, so its statistics count it as served.
 */
function passable(route: ToolRoute, replica: Replica, result: CallToolResult): CallToolResult {
  if (!nestsDeeperThan(result)) return result;
  throw new McpError(INTERNAL_ERROR, `Tool "${route.name}" answered (on provider "${replica.provider.id}") with JSON that nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep; mcp-edge does not pass such answers on.`);
}

export class ToolCaller {
  constructor(
    private readonly router: CoreRouter,
    private readonly maxAttempts: number,
    private readonly log: Logger,
  ) {}

  async call(route: ToolRoute, args: Record<string, unknown> | undefined, context: ProviderCallContext): Promise<CallToolResult> {
    // begin() records the start of the first replica; a call served for a peer skips the peers' replicas, so it selects and records each start itself.
    const begun = context.ownOnly !== true;
    const order = begun ? this.router.begin(route.handle) : [...this.router.select(route.handle)].filter((h) => route.replicas.get(h)?.provider.kind !== 'peer');
    if (order.length === 0) throw unavailable(route, 'every provider of it is down or failing (circuit open)');
    let lastError: unknown;
    let attempts = 0;
    for (const handle of order) {
      const replica = route.replicas.get(handle);
      if (!replica) {
        // Cannot happen while the table and the routes are built together; if it does, balance begin()'s start.
        if (handle === order[0] && begun) this.settle(route, handle, performance.now(), 'ok');
        continue;
      }
      attempts += 1;
      const started = performance.now();
      if (attempts > 1 || !begun) this.router.recordStart(route.handle, handle);
      if (context.routed) context.routed.provider = replica.provider.id;
      let result: CallToolResult | undefined;
      try {
        const call = () => replica.provider.callTool(replica.name, args, context);
        result = await (context.routed?.attempt ? context.routed.attempt(replica.provider, call) : call());
        this.settle(route, handle, started, 'ok');
      } catch (err) {
        const outcome = context.signal.aborted ? 'answered' : outcomeOf(err);
        this.settle(route, handle, started, outcome === 'answered' ? 'ok' : outcome);
        if (outcome === 'answered') throw err;
        lastError = err;
        if (!replica.idempotent) throw this.notRetried(route, replica, err, order.length);
        if (attempts >= this.maxAttempts) break;
        this.log.warn(`tool ${route.name}: provider ${replica.provider.id} failed (${outcome}); failing over`, { error: (err as Error).message });
      }
      if (result !== undefined) return passable(route, replica, result);
    }
    throw unavailable(route, `${attempts} provider(s) failed; the last said: ${(lastError as Error)?.message ?? String(lastError)}`);
  }

  /**
   * Starts the call on every replica the router admits now, at once (a
   * fan-out tool): each runs it once, nothing fails over, and each attempt
   * feeds the router's statistics. Best first, as the router ranks them.
   */
  callEach(route: ToolRoute, args: Record<string, unknown> | undefined, context: ProviderCallContext): { provider: string; result: Promise<CallToolResult> }[] {
    return [...this.router.select(route.handle)].flatMap((handle) => {
      const replica = route.replicas.get(handle);
      if (!replica) return [];
      this.router.recordStart(route.handle, handle);
      const started = performance.now();
      const result = replica.provider.callTool(replica.name, args, context).then(
        (answer) => {
          this.settle(route, handle, started, 'ok');
          return passable(route, replica, answer);
        },
        (err: unknown) => {
          const outcome = context.signal.aborted ? 'answered' : outcomeOf(err);
          this.settle(route, handle, started, outcome === 'answered' ? 'ok' : outcome);
          throw err;
        },
      );
      return [{ provider: replica.provider.id, result }];
    });
  }

  /** Records the end of an attempt; the tool may have left the table meanwhile (its provider died), which is fine. */
  private settle(route: ToolRoute, provider: number, started: number, outcome: Outcome): void {
    try {
      this.router.recordResult(route.handle, provider, performance.now() - started, outcome);
    } catch (err) {
      if (!(err instanceof CoreError && err.code === 'unknown-tool')) throw err;
    }
  }

  private notRetried(route: ToolRoute, replica: Replica, err: unknown, replicas: number): McpError {
    const message = (err as Error)?.message ?? String(err);
    const retry = replicas > 1 ? ' It was not retried on another replica because it is not marked idempotent (annotations.idempotentHint or idempotent_tools).' : '';
    const code = isMcpError(err) ? err.code : PROVIDER_UNAVAILABLE;
    return new McpError(code, `Tool "${route.name}" failed on provider "${replica.provider.id}": ${message}.${retry}`);
  }
}
