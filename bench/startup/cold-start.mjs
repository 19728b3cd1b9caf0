// Cold start: from `mcp-edge serve` spawned to GET /health answering 200.
// Baseline in the same run: a bare node:http server that answers /health, so the
// ratio shows what the gateway (core load, SQLite, SDK) adds to Node's own start.
// Two kinds of start: the first (each run gets an empty compile cache and an
// empty data dir: what a fresh install pays, database creation included), and
// later ones (one compile cache and one data dir, warmed by a start that is
// not counted: what every restart pays).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const RUNS = Number(process.env.RUNS ?? 10);
const DEADLINE_MS = 20_000;

const BARE_SERVER = `
  const http = require('node:http');
  const s = http.createServer((q, r) => r.end('{"status":"ok"}'));
  s.listen(0, '127.0.0.1', () => console.error('listening {"url":"http://127.0.0.1:' + s.address().port + '/mcp"'));
`;

/**
 * @param {string} base
 * @param {number} started  performance.now() at spawn
 * @returns {Promise<number>}
 */
async function pollHealth(base, started) {
  while (performance.now() - started < DEADLINE_MS) {
    try {
      const res = await fetch(new URL('/health', base));
      if (res.ok) return performance.now() - started;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('no /health within the deadline');
}

/**
 * CPU time (user + system, every thread) `pid` has used so far, in ms; NaN where
 * /proc is missing. On a shared machine it moves far less with the load than
 * the time to /health does. Linux counts it in ticks of 10 ms (USER_HZ 100).
 * @param {number | undefined} pid
 */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * One start: spawn, learn the port from the log line, poll /health.
 * @param {string[]} args
 * @param {string} [compileCache]  the folder of Node's compile cache for this start
 * @returns {Promise<{ ms: number; cpu: number }>}  ms from spawn to /health answering, and the CPU the process used by then
 */
function once(args, compileCache) {
  return new Promise((resolve, reject) => {
    const env = compileCache ? { ...process.env, NODE_COMPILE_CACHE: compileCache } : process.env;
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let seen = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      seen += chunk;
      const url = seen.match(/listening \{"url":"([^"]+)"/)?.[1];
      if (!url) return;
      child.stderr.removeAllListeners('data');
      pollHealth(url, started)
        .then((ms) => resolve({ ms, cpu: cpuMs(child.pid) }), reject)
        .finally(() => child.kill('SIGKILL'));
    });
    child.on('exit', (code) => code !== null && code !== 0 && reject(new Error(`exited ${code}: ${seen}`)));
  });
}

/** @param {{ ms: number; cpu: number }[]} samples  at least one */
function stats(samples) {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const cpu = samples.map((s) => s.cpu).sort((a, b) => a - b);
  return { median_ms: +at(0.5).toFixed(1), p90_ms: +at(0.9).toFixed(1), min_ms: +at(0).toFixed(1), cpu_median_ms: cpu[Math.floor(cpu.length / 2)] ?? NaN };
}

/** @param {string[]} args @param {string} [compileCache] */
async function series(args, compileCache) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(await once(args, compileCache));
  return stats(samples);
}

const cli = join(root, 'host/bin/mcp-edge.js');
const serveIn = (/** @type {string} */ dataDir) => [cli, 'serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'info'];
const fresh = (/** @type {string} */ name) => mkdtempSync(join(tmpdir(), name));

/** Every start with an empty compile cache and an empty data dir. */
async function firstStarts() {
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(await once(serveIn(fresh('cold-first-')), fresh('cold-cache-')));
  return stats(samples);
}

const baseline = await series(['-e', BARE_SERVER]);
const firstStart = await firstStarts();
const compileCache = fresh('cold-cache-');
const dataDir = fresh('cold-');
await once(serveIn(dataDir), compileCache); // fills the compile cache and creates the database
const gateway = await series(serveIn(dataDir), compileCache);
// An upstream that accepts connections and never answers: the gateway must answer /health without waiting for it.
const hole = createServer(() => undefined);
await new Promise((r) => hole.listen(0, '127.0.0.1', () => r(undefined)));
const holeDir = mkdtempSync(join(tmpdir(), 'cold-hole-'));
const holeConfig = join(holeDir, 'mcp-edge.toml');
writeFileSync(holeConfig, `[[upstreams]]\nid = "hole"\ntransport = "http"\nurl = "http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (hole.address()).port}/mcp"\n`);
const withHole = await series([cli, 'serve', '--config', holeConfig, '--bind', '127.0.0.1:0', '--data-dir', holeDir, '--log-level', 'info'], compileCache);
hole.close();
const report = {
  bench: 'cold-start-to-health',
  runs: RUNS,
  machine: { load_average: loadavg().map((l) => +l.toFixed(2)), cpus: cpus().length },
  baseline_bare_node_http: baseline,
  mcp_edge_serve_first_start: firstStart,
  mcp_edge_serve: gateway,
  mcp_edge_serve_with_unreachable_upstream: withHole,
  ratio_median_vs_baseline: +(gateway.median_ms / baseline.median_ms).toFixed(2),
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/cold-start.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
