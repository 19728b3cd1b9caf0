// Loaded into the process under test with `node --import` (soak.mjs does so):
// every SPACES_EVERY_MS (default 5000) it appends one JSON line to SPACES_FILE
// with V8's heap spaces (size reserved, physical, used) and process.memoryUsage(),
// so the soak can say which space the RSS follows. No GC is forced: it reads
// what the process holds as it runs. Worker threads load it too (they inherit
// the flags) and log their own isolate's heap under their threadId.
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { threadId } from 'node:worker_threads';

const file = process.env.SPACES_FILE;
const every = Number(process.env.SPACES_EVERY_MS ?? 5000);
const mb = (/** @type {number} */ bytes) => +(bytes / 1048576).toFixed(2);
/** Anonymous and file-backed resident MB (Linux): the heaps are anonymous, loaded code is files. */
const rssParts = () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (/** @type {string} */ name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN);
  return { rss_anon: mb(kb('RssAnon') * 1024), rss_file: mb(kb('RssFile') * 1024) };
};
if (file) {
  const started = performance.now();
  setInterval(() => {
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: mb(s.space_size), physical: mb(s.physical_space_size), used: mb(s.space_used_size) }]));
    const m = process.memoryUsage();
    const line = { thread: threadId, t_min: +((performance.now() - started) / 60_000).toFixed(3), rss: mb(m.rss), ...rssParts(), heap_total: mb(m.heapTotal), heap_used: mb(m.heapUsed), external: mb(m.external), array_buffers: mb(m.arrayBuffers), spaces };
    appendFileSync(file, JSON.stringify(line) + '\n');
  }, every).unref();
}
