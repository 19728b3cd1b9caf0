// An upstream whose lists are answered badly (test/fixtures/broken-lists-
// server.mjs). Regressions: a resources/templates/list answered with `{}` kept
// the whole upstream down, its tools with it, and /health said "the connection
// closed (the process exited or the server went away)": closing the client
// after the failed list reported the close, not the cause.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../host/src/telemetry/log.js';
import { connectClient, NODE, startGateway, textOf } from './helpers/gateway.js';

const SERVER = join(import.meta.dirname, 'fixtures/broken-lists-server.mjs');

async function gatewayWith(env: Record<string, string>) {
  const lines: string[] = [];
  const gateway = await startGateway(
    { aggregation: { prefix_mode: 'never' }, upstreams: [{ id: 'lists', transport: 'stdio', command: NODE, args: [SERVER], env }] },
    createLogger('warn', (line) => lines.push(line)),
  );
  await gateway.ready();
  return { gateway, lines };
}

const stateOf = async (gateway: { url: string }) => {
  const health = (await (await fetch(new URL('/health', gateway.url))).json()) as { providers: { id: string; state: string; detail?: string }[] };
  return health.providers.find((p) => p.id === 'lists');
};

describe('an upstream answering one of its optional lists badly', () => {
  for (const as of ['invalid', 'missing']) {
    it(`stays up with its tools when resources/templates/list and prompts/list are ${as}, and says which list was left out`, async () => {
      const { gateway, lines } = await gatewayWith({ BROKEN: 'resources/templates/list,prompts/list', BROKEN_AS: as });
      try {
        expect((await stateOf(gateway))?.state).toBe('up');
        const client = await connectClient(gateway);
        expect(textOf(await client.callTool({ name: 'still_here', arguments: {} }))).toBe('here');
        expect((await client.listResources()).resources.map((r) => r.uri)).toContain('fixture://note');
        expect((await client.listPrompts()).prompts.map((p) => p.name)).not.toContain('greet');
        const log = lines.join('\n');
        expect(log).toMatch(/upstream lists: left out its resource templates: its resources\/templates\/list answer/);
        expect(log).toMatch(/upstream lists: left out its prompts: its prompts\/list answer/);
        await client.close();
      } finally {
        await gateway.close();
      }
    });
  }
});

describe('an upstream answering tools/list badly', () => {
  it('is down, and /health says why (not "the connection closed")', async () => {
    const { gateway } = await gatewayWith({ BROKEN: 'tools/list' });
    try {
      const lists = await stateOf(gateway);
      expect(lists?.state).toBe('down');
      expect(lists?.detail).toMatch(/could not connect: its tools\/list answer is not a tools\/list result: tools: /);
      expect(lists?.detail).not.toMatch(/connection closed/);
    } finally {
      await gateway.close();
    }
  });
});
