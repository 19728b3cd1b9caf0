// An upstream that sends notifications/tools/list_changed in a burst
// (test/fixtures/list-changed-server.mjs). Regression: every notification
// read the upstream's whole list again, a thousand reads for a burst of a
// thousand; now a read in progress is followed by at most one more, and the
// list that came last is the one clients get.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coalesced } from '../host/src/providers/upstream/coalesce.js';
import { connectClient, eventually, NODE, startGateway, textOf } from './helpers/gateway.js';

const SERVER = join(import.meta.dirname, 'fixtures/list-changed-server.mjs');

describe('a burst of list_changed from an upstream', () => {
  it('reads the list at most twice more, and clients get the list as it is after the burst', async () => {
    const gateway = await startGateway({ aggregation: { prefix_mode: 'never' }, upstreams: [{ id: 'bursty', transport: 'stdio', command: NODE, args: [SERVER] }] });
    try {
      const client = await connectClient(gateway);
      expect(textOf(await client.callTool({ name: 'lists_served', arguments: {} }))).toBe('1');
      expect(textOf(await client.callTool({ name: 'burst', arguments: {} }))).toBe('burst sent');
      await eventually(async () => ((await client.listTools()).tools.some((t) => t.name === 'added_in_burst') ? true : undefined), 10_000, 'the tool added in the burst');
      // Settled: no read is left running.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const served = Number(textOf(await client.callTool({ name: 'lists_served', arguments: {} })));
      expect(served).toBeGreaterThanOrEqual(2);
      expect(served).toBeLessThanOrEqual(3);
      await client.close();
    } finally {
      await gateway.close();
    }
  });
});

describe('coalesced', () => {
  it('runs once for an ask, once more for any number of asks while it runs, and again after it went idle', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const ask = coalesced(() => new Promise<void>((resolve) => {
      runs += 1;
      release = resolve;
    }));
    ask();
    for (let i = 0; i < 100; i++) ask();
    expect(runs).toBe(1);
    release();
    await eventually(() => (runs === 2 ? true : undefined), 1000, 'the second run');
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runs).toBe(2);
    ask();
    expect(runs).toBe(3);
    release();
  });

  it('stays usable after its task throws', async () => {
    let runs = 0;
    const ask = coalesced(async () => {
      runs += 1;
      throw new Error('refresh failed');
    });
    ask();
    await new Promise((resolve) => setTimeout(resolve, 10));
    ask();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runs).toBe(2);
  });
});
