// Starts gateways in-process with upstreams from npm, and clients against them.
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll } from 'vitest';
import { createGateway, type Gateway } from '../../host/src/gateway/gateway.js';
import { loadCore, type EdgeCore } from '../../host/src/core/index.js';
import type { EdgeConfigInput } from '../../host/src/config/schema.js';
import { createLogger, type Logger } from '../../host/src/telemetry/log.js';
import { ROOT, tempDir } from './processes.js';

const modules = join(ROOT, 'node_modules/@modelcontextprotocol');
export const EVERYTHING = join(modules, 'server-everything/dist/index.js');
export const FILESYSTEM = join(modules, 'server-filesystem/dist/index.js');
export const MEMORY = join(modules, 'server-memory/dist/index.js');
export const REPLICA = join(ROOT, 'test/fixtures/replica-server.mjs');
export const NODE = process.execPath;

const open: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.allSettled(open.splice(0).map((o) => o.close()));
});

/** One core per test file: compiling the component is the slow part of a start. */
let core: Promise<EdgeCore> | undefined;

/** A gateway on 127.0.0.1 with a fresh data dir; closed, and its data dir removed, after the test file. Silent unless given a logger. */
export async function startGateway(config: EdgeConfigInput = {}, logger?: Logger): Promise<Gateway> {
  const dataDir = tempDir();
  core ??= loadCore();
  const gateway = await createGateway({
    config: { ...config, gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir, ...config.gateway } },
    core: await core,
    logger: logger ?? createLogger(process.env.MCP_EDGE_TEST_LOG ? 'debug' : 'silent'),
  });
  // Upstreams connect in the background; these tests start from every upstream's first attempt done.
  await gateway.ready();
  open.push({
    async close() {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
  return gateway;
}

export type ClientCapabilities = ConstructorParameters<typeof Client>[1];

/** One `[[upstreams]]` entry as a config file or createGateway takes it (defaults not yet filled in). */
export type UpstreamInput = NonNullable<EdgeConfigInput['upstreams']>[number];

/** An SDK client connected to the gateway over Streamable HTTP, closed after the test file. */
export async function connectClient(gateway: Gateway, options: ClientCapabilities = {}, setup?: (c: Client) => void): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' }, options);
  setup?.(client);
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
  open.push(client);
  return client;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a value (not undefined), or throws after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A provider's routing statistics, as the gateway reports them in mcp-edge://providers. */
export interface ProviderRouting {
  circuit: 'closed' | 'open' | 'half-open';
  in_flight: number;
  /** Attempts that reached the provider and ended; a call the router refuses is not one. */
  calls: number;
  failures: number;
  error_rate: number;
  latency_ms?: number;
}

/** The router's statistics for provider `id`, read through the gateway's own resource. */
export async function routingOf(client: Client, id: string): Promise<ProviderRouting> {
  const [content] = (await client.readResource({ uri: 'mcp-edge://providers' })).contents;
  if (!content || !('text' in content)) throw new Error('mcp-edge://providers answered without text');
  const report = JSON.parse(content.text) as { providers: { id: string; routing: ProviderRouting }[] };
  const provider = report.providers.find((p) => p.id === id);
  if (!provider) throw new Error(`mcp-edge://providers lists no provider "${id}"`);
  return provider.routing;
}

export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}
