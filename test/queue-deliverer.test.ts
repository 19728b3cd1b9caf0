// Regression: the queue's HTTP deliverer keeps one SDK client per destination,
// whose transport hands one connection-wide abort signal to every fetch; undici
// left a listener on it per delivery until GC, so a long sync (1,500+
// deliveries) raised MaxListenersExceededWarning and grew memory. A real
// destination gateway on 127.0.0.1 takes 1,700 deliveries here.
import { setMaxListeners } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../host/src/index.js';
import { mcpHttpDeliverer } from '../host/src/queue/mcp-deliverer.js';
import { startGateway, textOf } from './helpers/gateway.js';

const warnings: Error[] = [];
const onWarning = (w: Error) => void warnings.push(w);
process.on('warning', onWarning);
afterAll(() => void process.off('warning', onWarning));

describe('mcpHttpDeliverer', () => {
  it('delivers 1,700 calls over one client without piling listeners on its signal', async () => {
    const destination = await startGateway();
    let effects = 0;
    destination.plugins.registerTool(defineTool({
      name: 'record', description: 'Counts a delivery.', input: z.object({ n: z.number().int() }),
      handler: ({ n }) => (effects++, { content: [{ type: 'text', text: `recorded ${n}` }] }),
    }));
    const deliverer = mcpHttpDeliverer({ peer: destination.url }, 10_000);
    const link = new AbortController();
    // One listener per delivery in flight sits on the caller's signal; the delivery loop raises its limit to its window the same way.
    setMaxListeners(64, link.signal);
    try {
      let next = 0;
      const lane = async () => {
        while (next < 1_700) {
          const n = next++;
          const result = await deliverer.deliver('peer', { tool: 'record', arguments: { n }, idempotencyKey: `key-${n}` }, link.signal);
          expect(textOf(result)).toBe(`recorded ${n}`);
        }
      };
      await Promise.all(Array.from({ length: 16 }, lane));
    } finally {
      await deliverer.close();
    }
    expect(effects).toBe(1_700);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
  });
});
