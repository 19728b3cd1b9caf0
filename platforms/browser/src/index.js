// @ts-check
// mcp-edge for browsers and mobile web views: no Node APIs. The edge-core
// component (codec, tokenizer, router, queue scheduler) loads from the .wasm
// files beside this module; tool calls go to several MCP servers over
// Streamable HTTP, routed by the core; calls made while offline wait in
// IndexedDB and are delivered when the browser is online and a server that
// offers the tool answers, each exactly once (idempotency keys, which an
// mcp-edge server remembers).
import { loadCore } from '../../../host/src/core/index.js';
import { IndexedDbQueue } from './queue.js';
import { Servers } from './servers.js';

export { ServerUnavailableError, UnknownToolError } from './servers.js';
export { loadCore };

/** The `_meta` key an mcp-edge server reads a call's idempotency key from. */
export const IDEMPOTENCY_META_KEY = 'dev.mcp-edge/idempotency-key';

/**
 * @typedef {object} EdgeClientOptions
 * @property {{ id: string; url: string }[]} servers  MCP servers (Streamable HTTP URLs, relative to the page or absolute).
 * @property {string} [database]  The IndexedDB database of the queue (default "mcp-edge-queue").
 * @property {number} [retryMs]  How often queued calls are retried while some wait (default 2000).
 * @property {URL | string} [wasmBase]  Where the component's .wasm files are (default: beside this module).
 */

/** Loads the component in a browser: each core module fetched and compiled as it streams. */
function browserCompile(/** @type {URL} */ base) {
  return (/** @type {string} */ fileName) => WebAssembly.compileStreaming(fetch(new URL(fileName, base)));
}

/**
 * Creates the client: loads the core, opens the queue, and starts delivering
 * whatever an earlier page left queued.
 * @param {EdgeClientOptions} options
 */
export async function createEdgeClient(options) {
  const core = await loadCore({ compile: browserCompile(new URL(options.wasmBase ?? './', import.meta.url)) });
  const queue = await IndexedDbQueue.open(options.database ?? 'mcp-edge-queue');
  return new EdgeClient(core, new Servers(options.servers, core.createRouter()), queue, options.retryMs ?? 2000);
}

export class EdgeClient {
  /**
   * @param {import('../../../host/src/core/index.js').EdgeCore} core
   * @param {Servers} servers
   * @param {IndexedDbQueue} queue
   * @param {number} retryMs
   */
  constructor(core, servers, queue, retryMs) {
    this.core = core;
    this.servers = servers;
    this.queue = queue;
    this.retryMs = retryMs;
    /** @type {Promise<number> | undefined} */
    this.delivering = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.onOnline = () => void this.deliver();
    addEventListener('online', this.onOnline);
    void this.deliver();
  }

  /**
   * Calls a tool now, on the best server offering it.
   * @param {string} tool
   * @param {Record<string, unknown>} [args]
   */
  call(tool, args = {}) {
    return this.servers.call(tool, args);
  }

  /**
   * Queues a call in IndexedDB; resolves with its idempotency key once it is
   * stored (the acknowledgement), then delivery is tried.
   * @param {string} tool
   * @param {Record<string, unknown>} [args]
   */
  async defer(tool, args = {}) {
    const key = await this.queue.enqueue(tool, args);
    void this.deliver();
    return key;
  }

  /** Calls waiting in IndexedDB. */
  depth() {
    return this.queue.depth();
  }

  /**
   * Delivers queued calls in order while online; a call leaves the queue only
   * after its server answered. Resolves with how many were delivered. One pass
   * at a time; while calls remain, another pass is scheduled.
   * @returns {Promise<number>}
   */
  deliver() {
    this.delivering ??= this.deliverPass().finally(() => {
      this.delivering = undefined;
    });
    return this.delivering;
  }

  async deliverPass() {
    clearTimeout(this.timer);
    let delivered = 0;
    try {
      if (!navigator.onLine) return delivered;
      for (const call of await this.queue.list()) {
        // A tool's own error (isError) is its answer too: the call was delivered.
        await this.servers.call(call.tool, call.args, { [IDEMPOTENCY_META_KEY]: call.key });
        await this.queue.remove(/** @type {number} */ (call.seq));
        delivered += 1;
      }
    } catch {
      // A server down or unknown yet: the rest wait for the next pass.
    } finally {
      if ((await this.queue.depth()) > 0) this.timer = setTimeout(() => void this.deliver(), this.retryMs);
    }
    return delivered;
  }

  async close() {
    clearTimeout(this.timer);
    removeEventListener('online', this.onOnline);
    await this.delivering;
    await this.servers.close();
    this.queue.close();
  }
}
