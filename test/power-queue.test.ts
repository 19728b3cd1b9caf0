// Low power mode batches the offline queue's deliveries: a new call waits for
// the loop's next look instead of being sent at once (the pacing knob that
// power/gateway-power.ts sets through OfflineQueue.setDeliveryPacing).
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCore, openDatabase, OfflineQueue, type EdgeCore } from '../host/src/index.js';
import type { Db } from '../host/src/storage/database.js';
import { eventually } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';
import { silentLogger } from './helpers/queue.js';

let core: EdgeCore;
const open: { q: OfflineQueue; db: Db }[] = [];
const delivered: unknown[] = [];

async function makeQueue(): Promise<OfflineQueue> {
  core ??= await loadCore();
  const db = openDatabase(tempDir('mcp-edge-pq-'));
  const q = await OfflineQueue.open(db, core, {
    destinations: { cloud: { ttlMs: 0 } },
    deliver: async (_d, call): Promise<CallToolResult> => {
      delivered.push(call.arguments.n);
      return { content: [{ type: 'text', text: 'ok' }] };
    },
    tickMs: 60_000,
    log: silentLogger,
  });
  await q.ready;
  open.push({ q, db });
  // The first look at start is over before the test enqueues.
  await eventually(() => (q.deliveryRecord.rounds > 0 ? true : undefined));
  return q;
}

afterEach(async () => {
  delivered.length = 0;
  for (const { q, db } of open.splice(0)) {
    await q.close();
    if (db.open) db.close();
  }
});

const call = (n: number) => ({ destination: 'cloud', tool: 'record', arguments: { n } });
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('queue pacing (low power mode)', () => {
  it('sends a new call at once when not batched', async () => {
    const q = await makeQueue();
    const rounds = q.deliveryRecord.rounds;
    await q.enqueue(call(1));
    await turns(10);
    expect(q.deliveryRecord.rounds).toBeGreaterThan(rounds);
    await eventually(() => (delivered.length === 1 ? true : undefined));
  });

  it('keeps new calls for the pause when paced, and sends them together then', async () => {
    const q = await makeQueue();
    q.setDeliveryPacing({ tickMs: 60_000, pauseMs: 60_000, maxWindow: 0 });
    const rounds = q.deliveryRecord.rounds;
    await q.enqueue(call(1));
    await q.enqueue(call(2));
    await turns(10);
    expect(q.deliveryRecord.rounds).toBe(rounds);
    expect(delivered).toEqual([]);
    // A shorter pause applies to the kick already waiting: it sends both.
    q.setDeliveryPacing({ tickMs: 60_000, pauseMs: 20, maxWindow: 0 });
    await eventually(() => (delivered.length === 2 ? true : undefined));
    expect(delivered).toEqual([1, 2]);
  });
});
