// The group commit through the embedding API, on real SQLite files: an
// acknowledgement waits for the WAL's fdatasync (off the event loop), a failed
// sync refuses the group instead of acknowledging it, a group may evict its own
// calls, both codec engines write frames the other reads, and calls without a
// client key travel under their task id.
import { fstatSync, statSync } from 'node:fs';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCore, openDatabase, OfflineQueue, QueueError, type EdgeCore } from '../host/src/index.js';
import type { Db } from '../host/src/storage/database.js';
import type { QueueOptions } from '../host/src/queue/queue.js';
import { tempDir } from './helpers/processes.js';
import { silentLogger } from './helpers/queue.js';

let core: EdgeCore;
const open: { q: OfflineQueue; db: Db }[] = [];
const delivered: { n: unknown; key: string }[] = [];

async function makeQueue(extra: Partial<QueueOptions> = {}, dir = tempDir('mcp-edge-qg-')) {
  core ??= await loadCore();
  const db = openDatabase(dir);
  const q = await OfflineQueue.open(db, core, {
    destinations: { cloud: { ttlMs: 0 } },
    deliver: async (_d, call): Promise<CallToolResult> => {
      delivered.push({ n: call.arguments.n, key: call.idempotencyKey });
      return { content: [{ type: 'text', text: 'ok' }] };
    },
    tickMs: 60_000,
    log: silentLogger,
    ...extra,
  });
  await q.ready;
  open.push({ q, db });
  return { q, db, dir };
}

afterEach(async () => {
  delivered.length = 0;
  for (const { q, db } of open.splice(0)) {
    await q.close();
    if (db.open) db.close();
  }
});

const call = (n: number, extra: object = {}) => ({ destination: 'cloud', tool: 'record', arguments: { n }, ...extra });
const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
};

describe('group commit', () => {
  it('acknowledges only after the WAL file itself was fdatasynced', async () => {
    const held: { fd: number; cb: (err: Error | null) => void }[] = [];
    const { q, db } = await makeQueue({ fdatasync: (fd, cb) => held.push({ fd, cb }) });
    const first = q.enqueue(call(1));
    expect(await settled(first)).toBe(false);
    // Committed (visible in SQLite) but not acknowledged until the sync returns.
    expect(db.prepare('SELECT COUNT(*) FROM deferred').pluck().get()).toBe(1);
    expect(held).toHaveLength(1);
    expect(fstatSync(held[0]!.fd).ino).toBe(statSync(`${db.name}-wal`).ino);
    // A group committed while that sync runs waits for a sync that starts after it.
    const second = q.enqueue(call(2));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    held.shift()!.cb(null);
    expect((await first).id).toBe(1);
    expect(await settled(second)).toBe(false);
    for (let i = 0; i < 5 && held.length === 0; i++) await new Promise((r) => setImmediate(r));
    held.shift()!.cb(null);
    expect((await second).id).toBe(2);
    expect(q.diskFlush.flushes).toBe(2);
    // Only the group's own commit skips SQLite's sync; the connection is back to FULL (2) for everything else.
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('refuses a group whose sync failed, with a storage error, instead of acknowledging it', async () => {
    const { q } = await makeQueue({ fdatasync: (_fd, cb) => cb(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) });
    const err = await q.enqueue(call(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueError);
    expect((err as Error).message).toMatch(/EIO/);
  });

  it('in-commit mode lets SQLite sync inside COMMIT and never calls fdatasync', async () => {
    let calls = 0;
    const { q } = await makeQueue({ diskFlush: 'in-commit', fdatasync: (_fd, cb) => (calls++, cb(null)) });
    const ids = await Promise.all([1, 2, 3].map((n) => q.enqueue(call(n))));
    expect(ids.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(calls).toBe(0);
  });

  it('a group may evict calls admitted earlier in the same group', async () => {
    const linkDown = async (): Promise<CallToolResult> => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:9');
    };
    const { q, db } = await makeQueue({ deliver: linkDown, destinations: { cloud: { ttlMs: 0, maxItems: 2, overflow: 'drop-oldest-lowest-priority' } } });
    const all = await Promise.all([1, 2, 3, 4, 5].map((n) => q.enqueue(call(n))));
    const states = db.prepare('SELECT id, state FROM deferred ORDER BY id').all() as { id: number; state: string }[];
    expect(states.map((s) => s.state)).toEqual(['failed', 'failed', 'failed', 'queued', 'queued']);
    expect(all.map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
    expect(q.counters.evicted).toBe(3);
    expect(q.depth).toBe(2);
  });

  it('payloads packed by the native engine are read by the component engine, and back', async () => {
    const dir = tempDir('mcp-edge-qg-');
    const native = await makeQueue({ compression: 'zstd', codecEngine: 'native' }, dir);
    expect(native.q.codecEngine).toBe('native');
    await Promise.all([1, 2].map((n) => native.q.enqueue(call(n, { arguments: { n, text: 'y'.repeat(500) } }))));
    await native.q.close();
    native.db.close();
    const component = await makeQueue({ compression: 'zstd', codecEngine: 'component' }, dir);
    expect(component.q.codecEngine).toBe('component');
    await component.q.enqueue(call(3));
    await component.q.deliverNow();
    expect(delivered.map((d) => d.n)).toEqual([1, 2, 3]);
  });

  it('calls without a client key travel under their task id; client keys under the key', async () => {
    const { q } = await makeQueue();
    const plain = await q.enqueue(call(1));
    await q.enqueue(call(2, { idempotencyKey: 'k-2' }));
    // An empty client key is still a key (never confused with "no key").
    await q.enqueue(call(3, { idempotencyKey: '' }));
    await q.deliverNow();
    expect(delivered.map((d) => d.key)).toEqual([`${q.senderId}/${plain.taskId}`, `${q.senderId}:k-2`, `${q.senderId}:`]);
    const again = await q.enqueue(call(4, { idempotencyKey: 'k-2' }));
    expect(again.duplicate).toBe(true);
  });

  it('finds earlier calls of a whole group of client keys (looked up 32 at a time)', async () => {
    const { q } = await makeQueue();
    const keys = Array.from({ length: 40 }, (_, i) => `k-${i}`);
    const first = await Promise.all(keys.map((k, i) => q.enqueue(call(i, { idempotencyKey: k }))));
    const again = await Promise.all([...keys, 'k-new'].map((k, i) => q.enqueue(call(100 + i, { idempotencyKey: k }))));
    expect(again.slice(0, 40).map((e) => [e.taskId, e.duplicate])).toEqual(first.map((e) => [e.taskId, true]));
    expect(again[40]!.duplicate).toBe(false);
    expect(q.depth + q.counters.delivered).toBe(41);
  });

  it('new calls to a destination waiting out its backoff start no delivery rounds; waking it does', async () => {
    let attempts = 0;
    const linkDown = async (): Promise<CallToolResult> => {
      attempts += 1;
      throw new Error('connect ECONNREFUSED 127.0.0.1:9');
    };
    const { q } = await makeQueue({ deliver: linkDown, backoff: { baseMs: 60_000, maxMs: 60_000, jitterPercent: 0 } });
    await q.enqueue(call(1));
    await eventuallyTrue(() => attempts === 1);
    const rounds = q.deliveryRecord.rounds;
    for (const n of [2, 3, 4]) await q.enqueue(call(n));
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(q.deliveryRecord.rounds).toBe(rounds);
    expect(attempts).toBe(1);
    q.wakeDestination('cloud');
    await eventuallyTrue(() => attempts === 2);
  });
});

/** Polls `check` every 10 ms until it holds, for up to 10 s. */
async function eventuallyTrue(check: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !check() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}
