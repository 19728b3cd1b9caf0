// Helpers for the plugin tests; gateways and clients come from ./gateway.ts.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Gateway } from '../../host/src/index.js';

export { connectClient, eventually, startGateway } from './gateway.js';

/** Tools every gateway offers before any plugin is enabled (core built-ins and the offline queue's). */
export const ALWAYS_ON_TOOLS: readonly string[] = ['count_tokens', 'edge_compress', 'queue_status', 'queue_sync'];

/** The always-on tools plus `names`, in the gateway's list order (code point order). */
export function withAlwaysOn(...names: string[]): string[] {
  return [...ALWAYS_ON_TOOLS, ...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
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
 * sent before that is lost. Probes with a throwaway tool every 50 ms, for up to 10 s.
 */
export async function notificationsFlowing(gateway: Gateway, client: Client): Promise<void> {
  let seen = false;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    seen = true;
  });
  for (const deadline = Date.now() + 10_000; !seen && Date.now() < deadline; ) {
    gateway.plugins.registerTool({ name: 'probe', description: 'probe', input: { type: 'object' }, handler: () => ({ content: [] }) });
    gateway.plugins.tools.unregister('probe');
    await new Promise((r) => setTimeout(r, 50));
  }
  client.removeNotificationHandler('notifications/tools/list_changed');
  if (!seen) throw new Error('the client never received a notification');
}
