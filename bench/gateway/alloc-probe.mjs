// Preloaded into a front process by alloc.mjs (`node --import`): between two
// SIGUSR2 it counts the bytes the process allocates and what its scavenges
// promote, independently of load. V8 keeps no running total of allocated
// bytes, so it is summed from the GC profiler: what the heap grew by between
// one collection's end and the next one's start, plus the growth since the
// last. Promoted: what each scavenge added to the old space.
//
// ALLOC_PROBE_PROFILE (all | promoted | live) adds a sampling heap profile
// every ALLOC_PROBE_SAMPLE bytes: of every allocation; of what outlived a
// scavenge (collected objects kept only when a full collection freed them,
// and a scavenge at the end drops the young dead); or of what is alive after
// a full collection at the end. The result goes to the file ALLOC_PROBE_OUT
// as JSON, written whole (the reader waits for it to appear).
import { renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';
import vm from 'node:vm';

const out = process.env.ALLOC_PROBE_OUT;
const profileKind = process.env.ALLOC_PROBE_PROFILE ?? '';
const sampleInterval = Number(process.env.ALLOC_PROBE_SAMPLE ?? 512);

/** A scavenge on demand (the "promoted" profile), by V8's gc extension. */
let scavenge = () => undefined;
if (profileKind === 'promoted') {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  scavenge = () => gc({ type: 'minor' });
}

/** @type {{ profiler: v8.GCProfiler; used: number; session: Session | undefined } | undefined} */
let window;

async function start() {
  let session;
  if (profileKind) {
    session = new Session();
    session.connect();
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: sampleInterval,
      includeObjectsCollectedByMajorGC: profileKind !== 'live',
      includeObjectsCollectedByMinorGC: profileKind === 'all',
    });
  }
  const profiler = new v8.GCProfiler();
  profiler.start();
  window = { profiler, used: v8.getHeapStatistics().used_heap_size, session };
}

/** @param {any[]} spaces @param {string} name */
const usedIn = (spaces, name) => spaces.find((space) => space.spaceName === name)?.spaceUsedSize ?? 0;

async function stop() {
  if (!window) return;
  const { profiler, session } = window;
  const usedNow = v8.getHeapStatistics().used_heap_size;
  const data = profiler.stop();
  let allocated = 0;
  let promoted = 0;
  let after = window.used;
  /** @type {Record<string, number>} */
  const collections = {};
  /** @type {Record<string, { total: number; max: number; all: number[] }>} */
  const pausesUs = {};
  /** @type {number[]} */
  const survivedKB = [];
  let youngKB = 0;
  /** Every collection in turn: a scavenge as `promotedKB/survivedKB`, another kind by its name. */
  const sequence = [];
  for (const gc of data?.statistics ?? []) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - after;
    after = gc.afterGC.heapStatistics.usedHeapSize;
    collections[gc.gcType] = (collections[gc.gcType] ?? 0) + 1;
    // cost: the collection's time on the main thread, in µs.
    const pauses = (pausesUs[gc.gcType] ??= { total: 0, max: 0, all: [] });
    pauses.total += gc.cost;
    pauses.max = Math.max(pauses.max, gc.cost);
    pauses.all.push(Math.round(gc.cost));
    if (gc.gcType !== 'Scavenge') sequence.push(gc.gcType);
    else {
      const [before, afterGc] = [gc.beforeGC.heapSpaceStatistics, gc.afterGC.heapSpaceStatistics];
      // Kept by the scavenge: copied within the young generation or promoted.
      survivedKB.push(Math.round((gc.afterGC.heapStatistics.usedHeapSize - (gc.beforeGC.heapStatistics.usedHeapSize - usedIn(before, 'new_space'))) / 1024));
      const promotedNow = usedIn(afterGc, 'old_space') - usedIn(before, 'old_space');
      promoted += promotedNow;
      sequence.push(`${Math.round(promotedNow / 1024)}/${survivedKB.at(-1)}`);
      youngKB = Math.round((afterGc.find((space) => space.spaceName === 'new_space')?.spaceSize ?? 0) / 1024);
    }
  }
  allocated += usedNow - after;
  let profile = null;
  if (session) {
    if (profileKind === 'live') await session.post('HeapProfiler.collectGarbage');
    if (profileKind === 'promoted') scavenge();
    profile = (await session.post('HeapProfiler.stopSampling')).profile;
    session.disconnect();
  }
  window = undefined;
  if (out) {
    writeFileSync(`${out}.part`, JSON.stringify({ allocated, promoted, collections, pausesUs, survivedKB, youngKB, sequence, profile }));
    renameSync(`${out}.part`, out);
  }
}

process.on('SIGUSR2', () => void (window ? stop() : start()));
