// One bound on a message read from another process (protocol/message-size.ts:
// 64 MiB), the same over HTTP, stdio and the mesh. A stdio upstream's answer
// of more than 10 MiB (the SDK's default for a line) closed the upstream: its
// call failed and the upstream restarted, while the same answer over HTTP
// passed.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { connectClient, NODE, routingOf, startGateway, textOf } from './helpers/gateway.js';

const SERVER = join(import.meta.dirname, 'fixtures/deep-answer-server.mjs');

describe('a stdio upstream answering with one large line', () => {
  it('passes a 20 MiB answer on, and the upstream stays up', { timeout: 60_000 }, async () => {
    const gateway = await startGateway({ aggregation: { prefix_mode: 'never' }, upstreams: [{ id: 'large', transport: 'stdio', command: NODE, args: [SERVER] }] });
    try {
      await gateway.ready();
      const client = await connectClient(gateway);
      const text = textOf(await client.callTool({ name: 'large', arguments: {} }));
      expect(text.length).toBe(20 * 1024 * 1024);
      expect(textOf(await client.callTool({ name: 'flat', arguments: {} }))).toBe('flat');
      expect(await routingOf(client, 'large')).toMatchObject({ circuit: 'closed', calls: 2, failures: 0 });
      await client.close();
    } finally {
      await gateway.close();
    }
  });
});
