// The session's request time limits (host/src/gateway/deadlines.ts): one timer
// for a queue of deadlines instead of one per request. Real timers, short limits.
import { describe, expect, it } from 'vitest';
import { Deadlines, deadlinesOf } from '../host/src/gateway/deadlines.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Deadlines', () => {
  it('expires an open request after its limit, and not one released in time', async () => {
    const deadlines = new Deadlines(40);
    const expired: Array<[string, number]> = [];
    const start = performance.now();
    const a = deadlines.add(() => expired.push(['a', performance.now() - start]));
    deadlines.add(() => expired.push(['b', performance.now() - start]));
    deadlines.release(a);
    expect(deadlines.size).toBe(1);
    await sleep(100);
    expect(expired.map(([name]) => name)).toEqual(['b']);
    expect(expired[0]![1]).toBeGreaterThanOrEqual(39);
    expect(deadlines.size).toBe(0);
  });

  it('gives each request its own limit, counted from its start', async () => {
    const deadlines = new Deadlines(50);
    const expired: Array<[string, number]> = [];
    const start = performance.now();
    deadlines.add(() => expired.push(['first', performance.now() - start]));
    await sleep(30);
    deadlines.add(() => expired.push(['second', performance.now() - start]));
    await sleep(100);
    expect(expired.map(([name]) => name)).toEqual(['first', 'second']);
    expect(expired[0]![1]).toBeGreaterThanOrEqual(49);
    expect(expired[1]![1]).toBeGreaterThanOrEqual(79);
    expect(expired[1]![1] - expired[0]![1]).toBeGreaterThanOrEqual(20);
  });

  it('keeps a slow request timed while the many after it are released, and times a request added while expiring', async () => {
    const deadlines = new Deadlines(30);
    const expired: Array<[string, number]> = [];
    const start = performance.now();
    const at = () => performance.now() - start;
    const slow = deadlines.add(() => {
      expired.push(['slow', at()]);
      deadlines.add(() => expired.push(['added while expiring', at()]));
    });
    const many = Array.from({ length: 3000 }, () => deadlines.add(() => expired.push(['released', at()])));
    for (const deadline of many) deadlines.release(deadline);
    deadlines.release(many[0]!);
    expect(deadlines.size).toBe(1);
    await sleep(150);
    deadlines.release(slow);
    expect(expired.map(([name]) => name)).toEqual(['slow', 'added while expiring']);
    expect(expired[0]![1]).toBeGreaterThanOrEqual(29);
    expect(expired[1]![1] - expired[0]![1]).toBeGreaterThanOrEqual(29);
    expect(deadlines.size).toBe(0);
  });

  it('times a request added after the queue emptied from its own start, not by the timer left running', async () => {
    const deadlines = new Deadlines(40);
    const first = deadlines.add(() => undefined);
    deadlines.release(first);
    await sleep(20);
    let expiredAfter = -1;
    const start = performance.now();
    deadlines.add(() => (expiredAfter = performance.now() - start));
    await sleep(120);
    expect(expiredAfter).toBeGreaterThanOrEqual(39);
  });

  it('is one queue per limit for the whole process, shared by every session', () => {
    expect(deadlinesOf(1234)).toBe(deadlinesOf(1234));
    expect(deadlinesOf(1234)).not.toBe(deadlinesOf(1235));
  });
});
