// A real gateway in this process (createGateway, the npm API) on 127.0.0.1:0
// with a temp data dir, and the SDK's own client over Streamable HTTP.
import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createGateway, createLogger, loadCore, type EdgeConfigInput, type EdgeCore, type Gateway } from '../../host/src/index.js';
import { tempDir } from './processes.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let core: Promise<EdgeCore> | undefined;

/** Starts a gateway with `config` (bind and data_dir filled in); closed after the file. */
/** Tools every gateway offers before any plugin is enabled (core built-ins and the offline queue's). */
export const ALWAYS_ON_TOOLS: readonly string[] = ['count_tokens', 'edge_compress', 'queue_status', 'queue_sync'];

/** The always-on tools plus `names`, in the gateway's list order (code point order). */
export function withAlwaysOn(...names: string[]): string[] {
  return [...ALWAYS_ON_TOOLS, ...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function startGateway(config: EdgeConfigInput = {}): Promise<Gateway> {
  const dataDir = tempDir('mcp-edge-plugins-');
  core ??= loadCore();
  const gateway = await createGateway({
    config: { ...config, gateway: { ...config.gateway, bind_address: '127.0.0.1:0', data_dir: dataDir } },
    core: await core,
    logger: createLogger('error', () => undefined),
  });
  cleanups.push(async () => {
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return gateway;
}

/** An MCP client connected to the gateway over Streamable HTTP; closed after the file. */
export async function connectClient(gateway: Gateway): Promise<Client> {
  const client = new Client({ name: 'plugins-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
  cleanups.unshift(() => client.close());
  return client;
}

/** The text of a tool result's content items, joined. */
export function textOf(result: unknown): string {
  return ((result as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
}

/** Calls a tool and returns its result, typed. */
export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/**
 * Resolves once notifications reach the client. They travel on the client's GET
 * stream, which it opens just after initialize without waiting; a notification
 * sent before that is lost. Probes with a throwaway tool, at most 50 times.
 */
export async function notificationsFlowing(gateway: Gateway, client: Client): Promise<void> {
  let seen = false;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    seen = true;
  });
  for (let attempt = 0; attempt < 50 && !seen; attempt++) {
    gateway.plugins.registerTool({ name: 'probe', description: 'probe', input: { type: 'object' }, handler: () => ({ content: [] }) });
    gateway.plugins.tools.unregister('probe');
    await new Promise((r) => setTimeout(r, 50));
  }
  client.removeNotificationHandler('notifications/tools/list_changed');
  if (!seen) throw new Error('the client never received a notification');
}
