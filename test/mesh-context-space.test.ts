// One shared context space on a real SQLite database, without a network:
// what it refuses (with which code), what survives a reopen and a
// compaction, and that no mangled update harms it.
import { join } from 'node:path';
import * as Y from 'yjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { ContextSettings } from '../host/src/config/mesh-settings.js';
import { ContextSpace } from '../host/src/mesh/context/space.js';
import { ContextStore } from '../host/src/mesh/context/store.js';
import { ContextError } from '../host/src/mesh/errors.js';
import { openDatabase, type Db } from '../host/src/storage/database.js';
import { tempDir } from './helpers/processes.js';

const settings: ContextSettings = { spaces: ['s'], maxUpdateBytes: 4096, maxDocBytes: 16_384, syncIntervalMs: 1_000 };
const dbs: Db[] = [];
afterAll(() => dbs.forEach((db) => db.close()));

function open(dir = tempDir('mcp-edge-space-')): { space: ContextSpace; dir: string; db: Db } {
  const db = openDatabase(dir);
  dbs.push(db);
  return { space: new ContextSpace('s', settings, new ContextStore(db)), dir, db };
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    if (err instanceof ContextError) return err.code;
    throw err;
  }
  return undefined;
}

/** A deterministic generator (mulberry32), so a failing case can be replayed from its seed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('a context space', () => {
  it('refuses bad names, oversized writes and a full space with typed codes', () => {
    const { space } = open();
    expect(codeOf(() => space.set('has space', 1))).toBe('bad-name');
    expect(codeOf(() => space.set('a/b', 1))).toBe('bad-name');
    expect(codeOf(() => space.set('big', 'x'.repeat(5000)))).toBe('too-large');
    expect(codeOf(() => space.apply(new Uint8Array(5000), { peer: 'p' }))).toBe('too-large');
    for (let i = 0; i < 4; i++) space.set(`k${i}`, 'y'.repeat(3500));
    expect(codeOf(() => space.set('k4', 'y'.repeat(3500)))).toBe('space-full');
    // Deleting makes room again once compaction drops what was overwritten.
    for (let i = 0; i < 4; i++) space.delete(`k${i}`);
    expect(codeOf(() => space.set('k4', 'y'.repeat(3500)))).toBeUndefined();
  });

  it('takes a sync diff larger than the update limit (a new replica catching up), within the space limit', () => {
    const { space: full } = open();
    for (let i = 0; i < 3; i++) full.set(`k${i}`, 'z'.repeat(3000));
    const { space: fresh } = open();
    const diff = full.missing(fresh.stateVector());
    expect(diff.length).toBeGreaterThan(settings.maxUpdateBytes);
    expect(codeOf(() => fresh.apply(diff, { peer: 'p' }))).toBe('too-large');
    fresh.apply(diff, { peer: 'p' }, settings.maxDocBytes);
    expect(fresh.snapshot()).toEqual(full.snapshot());
  });

  it('reads as JSON what a peer put that the tools never write (a shared type, bytes, a subdocument)', () => {
    const { space } = open();
    const peer = new Y.Doc();
    const values = peer.getMap('values');
    const nested = new Y.Map();
    values.set('nested', nested);
    nested.set('inner', new Y.Doc());
    values.set('bytes', new Uint8Array([1, 2, 3]));
    values.set('subdoc', new Y.Doc());
    space.apply(Y.encodeStateAsUpdate(peer), { peer: 'p' });
    expect(JSON.parse(JSON.stringify(space.snapshot()))).toEqual({ values: { bytes: 'AQID', nested: { inner: null }, subdoc: null }, documents: {} });
  });

  it('is the same after a reopen, and after a compaction and a reopen', () => {
    const { space, dir } = open();
    space.set('line', { rate: 1 });
    space.append('log', 'one\n');
    space.append('log', 'two\n');
    const state = space.snapshot();
    expect(state).toEqual({ values: { line: { rate: 1 } }, documents: { log: 'one\ntwo\n' } });
    expect(open(dir).space.snapshot()).toEqual(state);
    space.compact();
    const { space: reopened, db } = open(dir);
    expect(reopened.snapshot()).toEqual(state);
    expect(db.prepare("SELECT count(*) FROM context_updates WHERE space = 's'").pluck().get()).toBe(1);
  });

  it('refuses 2000 mangled updates (random bytes, truncations, flipped bytes) without harm', () => {
    const { space } = open();
    space.set('kept', 'yes');
    const before = space.snapshot();
    const source = new Y.Doc();
    source.getMap('values').set('other', { n: 1 });
    source.getText('doc:notes').insert(0, 'hello');
    const valid = Y.encodeStateAsUpdate(source);
    const next = random(15);
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      let update: Uint8Array;
      if (i % 3 === 0) update = Uint8Array.from({ length: 1 + Math.floor(next() * 200) }, () => Math.floor(next() * 256));
      else if (i % 3 === 1) update = valid.subarray(0, Math.floor(next() * valid.length));
      else {
        update = valid.slice();
        update[Math.floor(next() * update.length)] = Math.floor(next() * 256);
      }
      const code = codeOf(() => space.apply(update, { peer: 'p' }));
      if (code !== undefined) {
        expect(code, `case ${i}`).toBe('corrupt');
        refused += 1;
      }
    }
    expect(refused).toBeGreaterThan(1000);
    // Whatever was accepted (a flipped byte can still be a valid update) left the kept key alone, and the space still works.
    expect(space.snapshot().values.kept).toBe(before.values.kept);
    space.set('after', 1);
    expect(space.value('after')).toBe(1);
    // And a fresh replica still gets all of it through the sync's diff.
    const replica = new Y.Doc();
    Y.applyUpdate(replica, space.missing(Y.encodeStateVector(replica)));
    expect(replica.getMap('values').get('after')).toBe(1);
  });
});
