// @ts-check
// Several MCP servers behind one call: a Streamable HTTP client per server,
// the tools each lists, and the core's router choosing among the servers that
// offer a tool (ranked on live latency and errors; a server that fails is
// marked unavailable until it answers again).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** @typedef {{ id: string; url: string }} ServerSpec */

export class ServerUnavailableError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ServerUnavailableError';
  }
}

export class UnknownToolError extends Error {
  /** @param {string} tool @param {string[]} known @param {string[]} down  why servers did not answer */
  constructor(tool, known, down) {
    super(`no server offers the tool "${tool}"; known: ${known.join(', ') || 'none'}${down.length > 0 ? `; not answering: ${down.join('; ')}` : ''}`);
    this.name = 'UnknownToolError';
  }
}

export class Servers {
  /**
   * @param {ServerSpec[]} specs
   * @param {import('../../../host/src/core/router.js').CoreRouter} router
   */
  constructor(specs, router) {
    this.router = router;
    /** @type {{ spec: ServerSpec; provider: number; client?: Client; lastError?: string }[]} */
    this.entries = specs.map((spec) => ({ spec, provider: router.addProvider({ localityMs: 0, cost: 1, energy: 1 }) }));
    /** @type {Map<string, { routerTool: number; providers: number[] }>} */
    this.tools = new Map();
  }

  /** @param {number} provider */
  entry(provider) {
    const found = this.entries.find((e) => e.provider === provider);
    if (!found) throw new Error(`router chose unknown provider ${provider}`);
    return found;
  }

  /** Connects to each server not yet connected and learns its tools; servers that are down are skipped. */
  async refresh() {
    for (const entry of this.entries) {
      try {
        if (!entry.client) {
          const client = new Client({ name: 'mcp-edge-browser', version: '0.1.0' });
          await client.connect(new StreamableHTTPClientTransport(new URL(entry.spec.url, location.href)));
          entry.client = client;
        }
        const { tools } = await entry.client.listTools();
        for (const tool of tools) this.offer(tool.name, entry.provider);
        this.router.setAvailable(entry.provider, true);
        entry.lastError = undefined;
      } catch (error) {
        entry.lastError = error instanceof Error ? error.message : String(error);
        await this.drop(entry);
      }
    }
  }

  /** @param {string} name @param {number} provider */
  offer(name, provider) {
    const known = this.tools.get(name);
    if (!known) {
      this.tools.set(name, { routerTool: this.router.addTool([provider]), providers: [provider] });
    } else if (!known.providers.includes(provider)) {
      known.providers.push(provider);
      this.router.setReplicas(known.routerTool, known.providers);
    }
  }

  /** @param {{ provider: number; client?: Client }} entry */
  async drop(entry) {
    this.router.setAvailable(entry.provider, false);
    const client = entry.client;
    entry.client = undefined;
    await client?.close().catch(() => {});
  }

  /**
   * Calls `tool` on the best server that offers it.
   * @param {string} tool
   * @param {Record<string, unknown>} args
   * @param {Record<string, unknown>} [meta]
   */
  async call(tool, args, meta) {
    // Servers that were down are asked again: a tool not seen yet, or none of its servers connected.
    const connected = (/** @type {number[]} */ providers) => providers.some((p) => this.entry(p).client);
    const before = this.tools.get(tool);
    if (!before || !connected(before.providers)) await this.refresh();
    const known = this.tools.get(tool);
    if (!known) {
      const down = this.entries.filter((e) => e.lastError).map((e) => `${e.spec.id} (${e.spec.url}): ${e.lastError}`);
      throw new UnknownToolError(tool, [...this.tools.keys()], down);
    }
    for (const provider of this.router.select(known.routerTool, performance.now())) {
      const entry = this.entry(provider);
      if (!entry.client) continue;
      const started = performance.now();
      this.router.recordStart(known.routerTool, provider, started);
      try {
        const result = await entry.client.callTool({ name: tool, arguments: args, _meta: meta });
        this.router.recordResult(known.routerTool, provider, performance.now() - started, 'ok', performance.now());
        return result;
      } catch (error) {
        this.router.recordResult(known.routerTool, provider, performance.now() - started, 'error', performance.now());
        // A protocol error is the tool's answer; anything else means the link.
        if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'number') throw error;
        await this.drop(entry);
      }
    }
    throw new ServerUnavailableError(`no server offering "${tool}" answered (${known.providers.length} offer it)`);
  }

  async close() {
    for (const entry of this.entries) await this.drop(entry);
  }
}
