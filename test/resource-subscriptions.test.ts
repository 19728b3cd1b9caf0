// Resource subscriptions through the gateway, against an upstream that shows
// what it is subscribed to (test/fixtures/subscribe-server.mjs). Regressions:
// an upstream that restarted had forgotten every subscription, and clients
// waited for updates that never came; an unsubscribe, or a session that
// ended, left the upstream subscribed for good; a session could hold any
// number of subscriptions. A restarted upstream forgot the logging level too.
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { MAX_SUBSCRIPTIONS_PER_SESSION } from '../host/src/gateway/mcp-server.js';
import type { UpstreamProvider } from '../host/src/providers/upstream/upstream.js';
import { connectClient, eventually, NODE, startGateway, textOf } from './helpers/gateway.js';

const SERVER = join(import.meta.dirname, 'fixtures/subscribe-server.mjs');

async function subscribeGateway(): Promise<Gateway> {
  return startGateway({ aggregation: { prefix_mode: 'never' }, upstreams: [{ id: 'subs', transport: 'stdio', command: NODE, args: [SERVER] }] });
}

/** A client that keeps the resource updates it gets. */
async function watcher(gateway: Gateway): Promise<{ client: Client; updates: string[] }> {
  const updates: string[] = [];
  const client = await connectClient(gateway, {}, (c) => c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri)));
  return { client, updates };
}

/** What the upstream process is subscribed to now. */
async function upstreamHolds(client: Client): Promise<string[]> {
  return JSON.parse(textOf(await client.callTool({ name: 'subscriptions', arguments: {} }))) as string[];
}

describe('resource subscriptions', () => {
  it('hold across sessions: the upstream is subscribed while any session is, and told when none is', async () => {
    const gateway = await subscribeGateway();
    try {
      const a = await watcher(gateway);
      const b = await watcher(gateway);
      await a.client.subscribeResource({ uri: 'fixture://a' });
      await b.client.subscribeResource({ uri: 'fixture://a' });
      await a.client.subscribeResource({ uri: 'fixture://a' }); // again: still one subscription
      await a.client.unsubscribeResource({ uri: 'fixture://a' });
      expect(await upstreamHolds(b.client)).toEqual(['fixture://a']);
      await b.client.callTool({ name: 'touch', arguments: {} });
      await eventually(() => (b.updates.includes('fixture://a') ? true : undefined), 10_000, 'the update for B');
      expect(a.updates).toEqual([]);
      // B's session ends (DELETE): nobody wants the resource any more.
      await (b.client.transport as StreamableHTTPClientTransport).terminateSession();
      await b.client.close();
      await eventually(async () => ((await upstreamHolds(a.client)).length === 0 ? true : undefined), 10_000, 'the upstream unsubscribed');
      await a.client.close();
    } finally {
      await gateway.close();
    }
  });

  it('are asked again of an upstream that restarted, and so is the logging level', async () => {
    const gateway = await subscribeGateway();
    try {
      const { client, updates } = await watcher(gateway);
      await client.subscribeResource({ uri: 'fixture://b' });
      await client.setLoggingLevel('warning');
      expect(textOf(await client.callTool({ name: 'level', arguments: {} }))).toBe('warning');
      const upstream = gateway.aggregator.slots.find((s) => s.provider.id === 'subs')!.provider as UpstreamProvider;
      const firstPid = upstream.pid!;
      process.kill(firstPid, 'SIGKILL');
      await eventually(() => (upstream.pid !== undefined && upstream.pid !== firstPid && upstream.health().state === 'up' ? true : undefined), 20_000, 'the upstream restarted');
      await eventually(async () => ((await upstreamHolds(client)).includes('fixture://b') ? true : undefined), 10_000, 'the restarted upstream subscribed again');
      expect(textOf(await client.callTool({ name: 'level', arguments: {} }))).toBe('warning');
      await client.callTool({ name: 'touch', arguments: {} });
      await eventually(() => (updates.includes('fixture://b') ? true : undefined), 10_000, 'an update after the restart');
      await client.close();
    } finally {
      await gateway.close();
    }
  });

  it(`are at most ${MAX_SUBSCRIPTIONS_PER_SESSION} per session`, async () => {
    const gateway = await subscribeGateway();
    try {
      const { client } = await watcher(gateway);
      for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_SESSION; i++) await client.subscribeResource({ uri: `fixture://n/${i}` });
      await expect(client.subscribeResource({ uri: 'fixture://n/one-more' })).rejects.toThrow(/subscribed to 1000 resources, the most one session may be; unsubscribe from some first/);
      await client.unsubscribeResource({ uri: 'fixture://n/0' });
      await client.subscribeResource({ uri: 'fixture://n/one-more' });
      await client.close();
    } finally {
      await gateway.close();
    }
  });
});
