// Calls that arrive while upstreams are still connecting. The gateway serves
// before its upstreams are up (they connect in the background), so a call to a
// tool no provider lists yet waits while some provider is on its first
// connection attempt: until the tool appears, every such provider has settled
// (up or failed), or the request's time limit ends it with a clear error.

import { REQUEST_TIMEOUT } from '../../protocol/jsonrpc.js';
import type { Provider } from '../../providers/provider.js';
import { McpError } from '../../protocol/mcp-error.js';

export class Arrivals {
  private waiters = new Set<() => void>();

  /** Calls waiting now. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** Something changed (a provider's health, the tool table): waiting calls look again. */
  wake(): void {
    const woken = this.waiters;
    this.waiters = new Set();
    for (const waiter of woken) waiter();
  }

  /**
   * `lookup()`'s answer once it has one, or undefined once no provider is
   * `connecting()` any more (the caller then says the tool is not offered).
   * Rejects when `signal` ends the wait first.
   */
  async routeOf<T>(name: string, signal: AbortSignal, lookup: () => T | undefined, connecting: () => Provider[]): Promise<T | undefined> {
    const started = performance.now();
    for (;;) {
      const found = lookup();
      if (found !== undefined) return found;
      const pending = connecting();
      if (pending.length === 0) return undefined;
      if (signal.aborted) throw stillConnecting(name, pending, performance.now() - started);
      await this.next(signal);
    }
  }

  /** Resolves on the next wake, or when `signal` aborts. */
  private next(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

function stillConnecting(name: string, pending: Provider[], waitedMs: number): McpError {
  const ids = pending.map((p) => `"${p.id}"`).join(', ');
  return new McpError(
    REQUEST_TIMEOUT,
    `Tool "${name}" is not offered yet: upstream ${ids} is still connecting (waited ${Math.round(waitedMs)} ms). GET /health shows its progress; retry once it is up.`,
  );
}
