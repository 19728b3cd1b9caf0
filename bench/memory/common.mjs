// Shared by the memory benches: start mcp-edge (`mcp-edge serve`, as a user
// would) or the same-run baseline (a bare node:http server, spawned the same
// way), read a process's resident memory from /proc, and a few statistics.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'host/bin/mcp-edge.js');
export const REPLICA = join(ROOT, 'test/fixtures/replica-server.mjs');

/** A bare node:http server that answers every request with a small JSON body, and logs its URL as mcp-edge does. */
const BARE_SERVER = `
  const http = require('node:http');
  const s = http.createServer((q, r) => { q.resume(); q.on('end', () => r.end('{"status":"ok"}')); });
  s.listen(0, '127.0.0.1', () => console.error('listening {"url":"http://127.0.0.1:' + s.address().port + '/mcp"'));
`;

/**
 * How a measured process starts: `spacesFile` loads spaces-preload.mjs, which
 * logs V8's heap spaces to that file; `nodeFlags` go to node before the script
 * (a V8 flag under test, say).
 * @typedef {{ spacesFile?: string; nodeFlags?: string[] }} Launch
 */

/** Every process a bench started and has not seen exit: killed when the bench process exits, however it ends. */
const started = new Set();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

/**
 * Spawns `args` with node and resolves once it logged its URL.
 * @param {string[]} args
 * @param {Launch} launch
 * @returns {Promise<{ child: import('node:child_process').ChildProcess; url: string; stop: () => Promise<void> }>}
 */
function startNode(args, { spacesFile, nodeFlags = [] }) {
  return new Promise((resolve, reject) => {
    const preload = spacesFile ? ['--import', join(ROOT, 'bench/memory/spaces-preload.mjs')] : [];
    const env = spacesFile ? { ...process.env, SPACES_FILE: spacesFile } : process.env;
    const child = spawn(process.execPath, [...nodeFlags, ...preload, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    started.add(child);
    child.once('exit', () => started.delete(child));
    let seen = '';
    child.stderr.setEncoding('utf8');
    const onData = (/** @type {string} */ chunk) => {
      seen += chunk;
      const url = seen.match(/listening \{"url":"([^"]+)"/)?.[1];
      if (!url) return;
      child.stderr.off('data', onData);
      child.stderr.resume();
      const stop = () => new Promise((r) => (child.exitCode !== null ? r(undefined) : (child.once('exit', () => r(undefined)), child.kill('SIGTERM'))));
      resolve({ child, url, stop: /** @type {() => Promise<void>} */ (stop) });
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${seen}`)));
  });
}

export const startBare = (/** @type {Launch} */ launch = {}) => startNode(['-e', BARE_SERVER], launch);

/**
 * `mcp-edge serve` on a free port with `toml` as its config file and a fresh data dir.
 * @param {string} toml
 * @param {Launch} [launch]
 */
export function startGateway(toml = '', launch = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-mem-'));
  const config = join(dir, 'mcp-edge.toml');
  writeFileSync(config, toml);
  return startNode([CLI, 'serve', '--config', config, '--bind', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'info'], launch);
}

/** Resident memory of `pid` in MB (VmRSS), and its peak (VmHWM). @param {number} pid */
export function rssOf(pid) {
  if (!existsSync(`/proc/${pid}`)) throw new Error(`process ${pid} is gone: it exited or was killed while the bench measured it (see its output above)`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (/** @type {string} */ name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN) / 1024;
  return { rss_mb: +field('VmRSS').toFixed(1), peak_mb: +field('VmHWM').toFixed(1) };
}

/** CPU time (user + system) `pid` has used so far, in ms (Linux: /proc/PID/stat, clock ticks of 10 ms). @param {number} pid */
export function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @param {number[]} samples @param {number} q */
export function quantile(samples, q) {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** Least-squares slope of y over x. @param {number[]} xs @param {number[]} ys */
export function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * ((ys[i] ?? my) - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? 0 : num / den;
}

/** The machine's load when the bench ran, to read the figures by. */
export const machine = () => ({ loadavg: loadavg().map((l) => +l.toFixed(2)), node: process.versions.node });

/** `count` stdio replica upstreams, as [[upstreams]] TOML. @param {number} count */
export function replicaUpstreams(count) {
  return Array.from({ length: count }, (_, i) => `
[[upstreams]]
id = "r${i}"
transport = "stdio"
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(REPLICA)}]
env = { REPLICA_NAME = "r${i}" }
`).join('');
}

/** GET /health once; ms it took. @param {string} url */
export async function healthOnce(url) {
  const started = performance.now();
  const res = await fetch(new URL('/health', url));
  await res.arrayBuffer();
  return performance.now() - started;
}
