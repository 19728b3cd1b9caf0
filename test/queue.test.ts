// The offline queue through the embedding API, on real SQLite files: TTL
// expiry, both overflow policies, dedupe, cancel, a corrupt row, a full disk
// and a read-only database. The destination here is a function (the link is
// up when it answers); the HTTP path has its own tests in queue-mcp.test.ts.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCore, openDatabase, OfflineQueue, QueueError, type EdgeCore } from '../host/src/index.js';
import type { Db } from '../host/src/storage/database.js';
import type { DestinationOptions } from '../host/src/queue/queue.js';
import { tempDir } from './helpers/processes.js';
import { silentLogger } from './helpers/queue.js';

let core: EdgeCore;
const open: { q: OfflineQueue; db: Db }[] = [];

/** A destination that records calls while `up`, and refuses the link otherwise. */
class Destination {
  up = false;
  readonly calls: { tool: string; n: unknown; key: string }[] = [];
  deliver = async (_dest: string, call: { tool: string; arguments: Record<string, unknown>; idempotencyKey: string }): Promise<CallToolResult> => {
    if (!this.up) throw new Error('connect ECONNREFUSED 127.0.0.1:9');
    this.calls.push({ tool: call.tool, n: call.arguments.n, key: call.idempotencyKey });
    return { content: [{ type: 'text', text: `did ${String(call.arguments.n)}` }] };
  };
}

async function makeQueue(dest: Destination, limits: DestinationOptions = {}, dir = tempDir('mcp-edge-q-'), clock?: { t: number }, compression?: 'zstd') {
  core ??= await loadCore();
  const db = openDatabase(dir);
  const q = await OfflineQueue.open(db, core, {
    destinations: { cloud: { ttlMs: 0, ...limits } },
    deliver: dest.deliver,
    backoff: { baseMs: 100, maxMs: 1000, jitterPercent: 0 },
    tickMs: 60_000,
    log: silentLogger,
    ...(clock ? { now: () => clock.t } : {}),
    ...(compression ? { compression } : {}),
  });
  await q.ready;
  open.push({ q, db });
  return { q, db, dir };
}

afterEach(async () => {
  for (const { q, db } of open.splice(0)) {
    await q.close();
    if (db.open) db.close();
  }
});

const call = (n: number, extra: object = {}) => ({ destination: 'cloud', tool: 'record', arguments: { n }, ...extra });

describe('offline queue identity', () => {
  it('keeps its sender id across reopens of one database, and makes a new one for another', async () => {
    const dest = new Destination();
    const first = await makeQueue(dest);
    const id = first.q.senderId;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await first.q.close();
    first.db.close();
    const again = await makeQueue(dest, {}, first.dir);
    expect(again.q.senderId).toBe(id);
    const other = await makeQueue(dest);
    expect(other.q.senderId).not.toBe(id);
  });
});

describe('offline queue policies', () => {
  it('expires calls past their TTL, reports them and never sends them', async () => {
    const dest = new Destination();
    const clock = { t: 1_000_000 };
    const { q } = await makeQueue(dest, { ttlMs: 60_000 }, undefined, clock);
    const a = await q.enqueue(call(1, { ttlMs: 5_000 }));
    const b = await q.enqueue(call(2));
    // A caller may shorten a call's life but not stretch it past the destination's.
    const c = await q.enqueue(call(3, { ttlMs: 10 * 60_000 }));
    expect(q.taskRow(c.taskId)?.expires_ms).toBe(clock.t + 60_000);
    // Never early; at most a second late (the core keeps expiry in whole seconds).
    clock.t += 4_999;
    await q.deliverNow();
    expect(q.counters.expired).toBe(0);
    clock.t += 1;
    dest.up = true;
    await q.deliverNow();
    expect(q.counters.expired).toBe(1);
    expect(q.taskRow(a.taskId)).toMatchObject({ state: 'failed', message: expect.stringContaining('expired') });
    expect(q.taskRow(b.taskId)?.state).toBe('completed');
    expect(dest.calls.map((x) => x.n)).toEqual([2, 3]);
  });

  it('packs payloads with the configured codec (zstd)', async () => {
    const dest = new Destination();
    const { q, db } = await makeQueue(dest, {}, undefined, undefined, 'zstd');
    const a = await q.enqueue(call(1));
    const frame = db.prepare('SELECT payload FROM deferred WHERE id = ?').pluck().get(a.id) as Buffer;
    expect(core.codec.inspect(frame).algorithm).toBe(q.algorithm);
    expect(q.algorithm).toBe('zstd');
    dest.up = true;
    await q.deliverNow();
    expect(dest.calls.map((c) => c.n)).toEqual([1]);
  });

  it('rejects new work when full under the reject policy, with a clear error', async () => {
    const { q } = await makeQueue(new Destination(), { maxItems: 2, overflow: 'reject' });
    await q.enqueue(call(1));
    await q.enqueue(call(2));
    const err = await q.enqueue(call(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueError);
    expect((err as QueueError).code).toBe('full');
    expect((err as Error).message).toMatch(/full \(2 calls/);
    expect(q.depth).toBe(2);
  });

  it('drops the oldest of the lowest priority under drop-oldest-lowest-priority, and reports it', async () => {
    const dest = new Destination();
    const { q } = await makeQueue(dest, { maxItems: 2, overflow: 'drop-oldest-lowest-priority' });
    const low = await q.enqueue(call(1, { priority: 'low' }));
    await q.enqueue(call(2, { priority: 'high' }));
    await q.enqueue(call(3, { priority: 'normal' }));
    expect(q.counters.evicted).toBe(1);
    expect(q.taskRow(low.taskId)).toMatchObject({ state: 'failed', message: expect.stringContaining('evicted') });
    // A low call cannot push out normal or high work.
    expect(((await q.enqueue(call(4, { priority: 'low' })).catch((e: unknown) => e)) as QueueError).code).toBe('full');
    dest.up = true;
    await q.deliverNow();
    expect(dest.calls.map((c) => c.n)).toEqual([2, 3]);
  });

  it('dedupes a repeated idempotency key, in one group commit and across them', async () => {
    const dest = new Destination();
    const { q } = await makeQueue(dest);
    const [a, b] = await Promise.all([q.enqueue(call(1, { idempotencyKey: 'k' })), q.enqueue(call(1, { idempotencyKey: 'k' }))]);
    expect(b!.taskId).toBe(a!.taskId);
    expect([a!.duplicate, b!.duplicate]).toEqual([false, true]);
    dest.up = true;
    await q.deliverNow();
    const c = await q.enqueue(call(1, { idempotencyKey: 'k' }));
    expect(c).toMatchObject({ taskId: a!.taskId, duplicate: true });
    await q.deliverNow();
    expect(dest.calls).toHaveLength(1);
    expect(dest.calls[0]!.key).toMatch(/:k$/);
  });

  it('cancels a queued task; it is never sent', async () => {
    const dest = new Destination();
    const { q } = await makeQueue(dest);
    const a = await q.enqueue(call(1));
    await q.enqueue(call(2));
    q.cancel(a.taskId);
    expect(q.taskRow(a.taskId)?.state).toBe('cancelled');
    expect(() => q.cancel(a.taskId)).toThrow(QueueError);
    dest.up = true;
    await q.deliverNow();
    expect(dest.calls.map((c) => c.n)).toEqual([2]);
  });

  it('skips a corrupt row at start and a corrupt payload at delivery, reports both, delivers the rest', async () => {
    const dest = new Destination();
    const { q, db, dir } = await makeQueue(dest);
    const ids = [];
    for (let n = 1; n <= 4; n++) ids.push((await q.enqueue(call(n))).id);
    await q.close();
    db.prepare('UPDATE deferred SET priority = 9 WHERE id = ?').run(ids[1]);
    db.prepare('UPDATE deferred SET payload = ? WHERE id = ?').run(Buffer.from('not a frame at all'), ids[2]);
    db.close();
    const again = await makeQueue(dest, {}, dir);
    expect(again.q.counters.corrupt).toBe(1);
    expect(again.q.store.task(ids[1]!)).toMatchObject({ state: 'failed', message: expect.stringContaining('corrupt row') });
    dest.up = true;
    await again.q.deliverNow();
    expect(again.q.counters.corrupt).toBe(2);
    expect(again.q.store.task(ids[2]!)).toMatchObject({ state: 'failed', message: expect.stringContaining('corrupt payload') });
    expect(dest.calls.map((c) => c.n)).toEqual([1, 4]);
  });

  it('a read-only database gives callers a clear error and loses nothing accepted', async () => {
    const dest = new Destination();
    const { q, db } = await makeQueue(dest);
    await q.enqueue(call(1));
    db.pragma('query_only = ON');
    const err = (await q.enqueue(call(2)).catch((e: unknown) => e)) as QueueError;
    expect(err.code).toBe('storage-read-only');
    expect(err.message).toMatch(/read-only.*intact/);
    expect(q.depth).toBe(1);
    // Syncing while read-only: the call goes out, its outcome cannot be
    // recorded, so it stays queued (not lost) and goes again later with the
    // same idempotency key, which the destination uses to answer once.
    dest.up = true;
    await q.deliverNow();
    expect(q.deliveryRecord.lastError).toMatch(/readonly|read-only/i);
    expect(q.depth).toBe(1);
    db.pragma('query_only = OFF');
    await q.enqueue(call(3));
    await q.deliverNow();
    expect(dest.calls.map((c) => c.n)).toEqual([1, 1, 3]);
    expect(dest.calls[1]!.key).toBe(dest.calls[0]!.key);
    expect(q.depth).toBe(0);
  });

  it('a full disk gives callers a clear error; accepted calls survive intact', async () => {
    const dest = new Destination();
    const { q, db } = await makeQueue(dest, { maxBytes: 1 << 30 });
    const big = 'x'.repeat(64 * 1024);
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true })) + 40}`);
    const accepted: number[] = [];
    let error: QueueError | undefined;
    for (let n = 0; n < 100 && !error; n++) {
      await q.enqueue(call(n, { arguments: { n, big } })).then(() => accepted.push(n), (e: QueueError) => (error = e));
    }
    expect(error?.code).toBe('storage-full');
    expect(error?.message).toMatch(/disk .* full/);
    expect(q.depth).toBe(accepted.length);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.pragma('max_page_count = 1073741823');
    dest.up = true;
    await q.deliverNow();
    expect(dest.calls.map((c) => c.n)).toEqual(accepted);
  });
});
