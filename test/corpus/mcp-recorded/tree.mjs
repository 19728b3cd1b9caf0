// A seeded workspace for the filesystem server: JSON configs, logs, markdown
// notes, CSV data and a little source, in nested folders. The same seed gives
// the same paths, bytes and modification times, so a recorded session differs
// between seeds in what it reads, not in how the tree was made.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const WORDS = ('gateway queue replica offline sync device sensor cache token prompt model edge node mesh ' +
  'peer cloud local retry backoff frame dictionary schema tool result resource session batch window ' +
  'budget latency throughput checksum upgrade rollout config deploy volume snapshot index shard').split(' ');
const SERVICES = ['ingest', 'router', 'scheduler', 'billing', 'search', 'notifier', 'archive', 'auth'];
const LEVELS = ['DEBUG', 'INFO', 'INFO', 'INFO', 'WARN', 'ERROR'];
const TOPICS = ['release plan', 'incident review', 'design notes', 'meeting minutes', 'runbook', 'todo'];
// 2026-01-01T00:00:00Z: every timestamp in the tree is this plus a seeded offset.
const EPOCH_S = 1767225600;

/** @typedef {import('../../../bench/codec/mcp-corpus.mjs').Random} Random */
/** @typedef {Record<string, string>} Files  file text by path relative to the tree's root */

/**
 * One element of a non-empty `list`, chosen by `next`.
 * @template T
 * @param {Random} next
 * @param {readonly T[]} list
 * @returns {T}
 */
export const pick = (next, list) => /** @type {T} */ (list[Math.floor(next() * list.length)]);
/**
 * An integer in [lo, hi].
 * @param {Random} next
 * @param {number} lo
 * @param {number} hi
 */
export const int = (next, lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
/**
 * @param {Random} next
 * @param {number} n
 */
export const words = (next, n) => Array.from({ length: n }, () => pick(next, WORDS)).join(' ');
/** @param {Random} next */
const sentence = (next) => {
  const s = words(next, int(next, 5, 14));
  return s.charAt(0).toUpperCase() + s.slice(1) + '.';
};
const iso = (/** @type {number} */ seconds) => new Date(seconds * 1000).toISOString();

/**
 * @param {Random} next
 * @param {string} service
 */
function configJson(next, service) {
  const config = {
    service,
    port: int(next, 3000, 9000),
    replicas: int(next, 1, 5),
    features: Object.fromEntries(Array.from({ length: int(next, 2, 6) }, () => [pick(next, WORDS), next() < 0.6])),
    retry: { attempts: int(next, 1, 8), backoffMs: int(next, 50, 2000) },
    upstreams: Array.from({ length: int(next, 1, 4) }, () => `http://127.0.0.1:${int(next, 4000, 4999)}/${pick(next, WORDS)}`),
  };
  return JSON.stringify(config, null, next() < 0.5 ? 2 : 4) + '\n';
}

/**
 * @param {Random} next
 * @param {string} service
 * @param {number} start  seconds since the epoch
 */
function logFile(next, service, start) {
  const lines = [];
  let t = start;
  for (let i = int(next, 6, 30); i > 0; i--) {
    t += int(next, 1, 900);
    lines.push(`${iso(t)} ${pick(next, LEVELS).padEnd(5)} [${service}] ${words(next, int(next, 3, 10))} id=${int(next, 1000, 99999)}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * @param {Random} next
 * @param {string} topic
 */
function markdown(next, topic) {
  const parts = [`# ${topic.charAt(0).toUpperCase()}${topic.slice(1)}: ${words(next, 2)}`, ''];
  for (let s = int(next, 1, 4); s > 0; s--) {
    parts.push(`## ${words(next, int(next, 1, 3))}`, '');
    parts.push(Array.from({ length: int(next, 1, 4) }, () => sentence(next)).join(' '), '');
    for (let b = int(next, 0, 5); b > 0; b--) parts.push(`- ${next() < 0.3 ? '[ ] ' : ''}${words(next, int(next, 2, 7))}`);
    parts.push('');
  }
  return parts.join('\n');
}

/** @param {Random} next */
function csv(next) {
  const rows = ['ts,device,metric,value'];
  for (let i = int(next, 5, 40); i > 0; i--) {
    rows.push(`${EPOCH_S + int(next, 0, 86400 * 30)},dev-${int(next, 1, 24)},${pick(next, WORDS)},${(next() * 1000).toFixed(2)}`);
  }
  return rows.join('\n') + '\n';
}

/**
 * @param {Random} next
 * @param {string} name
 */
function source(next, name) {
  const fns = Array.from({ length: int(next, 1, 4) }, () => {
    const fn = `${pick(next, WORDS)}${pick(next, WORDS).charAt(0).toUpperCase()}${pick(next, WORDS).slice(1)}`;
    return `/** ${sentence(next)} */\nexport function ${fn}(input) {\n  return input.${pick(next, WORDS)} ?? ${int(next, 0, 100)};\n}\n`;
  });
  return `// ${name}: ${sentence(next)}\n\n${fns.join('\n')}`;
}

/**
 * The files of one seeded tree, as { relativePath: text }.
 * @param {Random} next
 * @returns {Files}
 */
export function treeFiles(next) {
  /** @type {Files} */
  const files = {};
  const services = SERVICES.filter(() => next() < 0.6);
  if (services.length === 0) services.push(pick(next, SERVICES));
  for (const service of services) {
    files[`config/${service}.json`] = configJson(next, service);
    for (let d = int(next, 1, 3); d > 0; d--) {
      files[`logs/${service}/2026-01-${String(int(next, 1, 28)).padStart(2, '0')}.log`] = logFile(next, service, EPOCH_S + int(next, 0, 86400 * 30));
    }
  }
  for (let n = int(next, 3, 8); n > 0; n--) {
    const topic = pick(next, TOPICS);
    files[`notes/${topic.replace(' ', '-')}/${pick(next, WORDS)}-${int(next, 1, 99)}.md`] = markdown(next, topic);
  }
  for (let n = int(next, 1, 4); n > 0; n--) files[`data/${pick(next, WORDS)}/${pick(next, WORDS)}.csv`] = csv(next);
  for (let n = int(next, 1, 4); n > 0; n--) {
    const name = `src/${pick(next, WORDS)}/${pick(next, WORDS)}.js`;
    files[name] = source(next, name);
  }
  files['README.md'] = markdown(next, 'design notes');
  return files;
}

/**
 * Writes the tree under `root` with seeded modification times; returns its files.
 * @param {string} root
 * @param {Random} next
 */
export function writeTree(root, next) {
  const files = treeFiles(next);
  for (const [path, text] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
    const t = EPOCH_S + int(next, 0, 86400 * 60);
    utimesSync(full, t, t);
  }
  return files;
}
