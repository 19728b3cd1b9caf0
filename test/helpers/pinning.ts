// Tool pinning tests: an upstream (test/fixtures/pinning-server.mjs) whose
// tools are a JSON file the test rewrites, and a client that waits for the
// gateway's tools/list_changed instead of the clock.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Gateway } from '../../host/src/gateway/gateway.js';
import { connectClient, NODE, type UpstreamInput } from './gateway.js';
import { ROOT, tempDir } from './processes.js';

export const PINNING_SERVER = join(ROOT, 'test/fixtures/pinning-server.mjs');

/** A tool definition as the fixture sends it: any JSON, key order kept. */
export type RawTool = Record<string, unknown>;

/** The fixture's tools file, rewritten by `write`. */
export function toolsFile(tools: RawTool[]): { path: string; write: (tools: RawTool[]) => void } {
  const path = join(tempDir('mcp-edge-pins-'), 'tools.json');
  const write = (next: RawTool[]) => writeFileSync(path, JSON.stringify(next, null, 2));
  write(tools);
  return { path, write };
}

/** The fixture as a stdio upstream reading `file`. */
export function pinnedUpstream(file: string, extra: Partial<UpstreamInput> = {}, entry = PINNING_SERVER): UpstreamInput {
  return { id: 'up', transport: 'stdio', command: NODE, args: [entry], env: { TOOLS_FILE: file }, ...extra } as UpstreamInput;
}

export interface WatchingClient {
  client: Client;
  /** Lists tools until `ok` holds, listing again at each tools/list_changed; throws after `ms`. */
  toolsWhen: (ok: (tools: Tool[]) => boolean, what: string, ms?: number) => Promise<Tool[]>;
  /** Asks the fixture to send tools/list_changed (the gateway then lists its tools again). */
  reload: () => Promise<void>;
}

/** A client of `gateway`; `reloadTool` is the fixture's reload under its public name. */
export async function connectWatching(gateway: Gateway, reloadTool = 'reload'): Promise<WatchingClient> {
  let wake: () => void = () => undefined;
  const client = await connectClient(gateway, {}, (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => wake()));
  const toolsWhen = async (ok: (tools: Tool[]) => boolean, what: string, ms = 10_000): Promise<Tool[]> => {
    const deadline = Date.now() + ms;
    for (;;) {
      // Armed before listing: a change announced while the list is read is not missed.
      const changed = new Promise<void>((resolve) => (wake = resolve));
      const { tools } = await client.listTools();
      if (ok(tools)) return tools;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; listed: ${tools.map((t) => t.name).join(', ')}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([changed, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
  };
  const reload = async () => {
    await client.callTool({ name: reloadTool, arguments: {} });
  };
  return { client, toolsWhen, reload };
}

export const names = (tools: Tool[]): string[] => tools.map((t) => t.name);
export const has = (name: string) => (tools: Tool[]): boolean => tools.some((t) => t.name === name);
export const lacks = (name: string) => (tools: Tool[]): boolean => !tools.some((t) => t.name === name);
