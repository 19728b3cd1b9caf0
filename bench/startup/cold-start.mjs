// Cold start: from `mcp-edge serve` spawned to GET /health answering 200.
// Baseline in the same run: a bare node:http server that answers /health, so the
// ratio shows what the gateway (core load, SQLite, SDK) adds to Node's own start.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
 * One start: spawn, learn the port from the log line, poll /health.
 * @param {string[]} args
 * @returns {Promise<number>}  ms from spawn to /health answering
 */
function once(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let seen = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      seen += chunk;
      const url = seen.match(/listening \{"url":"([^"]+)"/)?.[1];
      if (!url) return;
      child.stderr.removeAllListeners('data');
      pollHealth(url, started)
        .then(resolve, reject)
        .finally(() => child.kill('SIGKILL'));
    });
    child.on('exit', (code) => code !== null && code !== 0 && reject(new Error(`exited ${code}: ${seen}`)));
  });
}

/** @param {number[]} samples  at least one */
function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { median_ms: +at(0.5).toFixed(1), p90_ms: +at(0.9).toFixed(1), min_ms: +at(0).toFixed(1) };
}

/** @param {string[]} args */
async function series(args) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(await once(args));
  return stats(samples);
}

const cli = join(root, 'host/bin/mcp-edge.js');
const baseline = await series(['-e', BARE_SERVER]);
const gateway = await series([cli, 'serve', '--bind', '127.0.0.1:0', '--data-dir', mkdtempSync(join(tmpdir(), 'cold-')), '--log-level', 'info']);
// An upstream that accepts connections and never answers: the gateway must answer /health without waiting for it.
const hole = createServer(() => undefined);
await new Promise((r) => hole.listen(0, '127.0.0.1', () => r(undefined)));
const holeDir = mkdtempSync(join(tmpdir(), 'cold-hole-'));
const holeConfig = join(holeDir, 'mcp-edge.toml');
writeFileSync(holeConfig, `[[upstreams]]\nid = "hole"\ntransport = "http"\nurl = "http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (hole.address()).port}/mcp"\n`);
const withHole = await series([cli, 'serve', '--config', holeConfig, '--bind', '127.0.0.1:0', '--data-dir', holeDir, '--log-level', 'info']);
hole.close();
const report = {
  bench: 'cold-start-to-health',
  runs: RUNS,
  baseline_bare_node_http: baseline,
  mcp_edge_serve: gateway,
  mcp_edge_serve_with_unreachable_upstream: withHole,
  ratio_median_vs_baseline: +(gateway.median_ms / baseline.median_ms).toFixed(2),
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/cold-start.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
