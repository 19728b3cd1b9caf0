// What issue 12's hardening costs and what it buys, each against a baseline
// measured in the same run. Prints one JSON object. Needs the built host.
//
// 1. A legitimate client under attack. A gateway (`mcp-edge serve`, its own
//    process, max_connections 100) is probed by a newcomer (GET /health on a
//    new connection each time) and by a client with an open MCP session
//    (tools/call), first with no attack (the baseline), then while this
//    process keeps 500 silent connections open (each one closed by the
//    gateway is reopened at once), then while it keeps 150 chunked POST
//    bodies trickling one byte a second. Before the hardening both attacks
//    refused every newcomer.
// 2. What the guards cost per call: shell_run `true` in its own PID namespace
//    vs isolation "none"; a query on node:sqlite with the sqlite plugin's
//    authorizer and limits vs the same connection without them (in process,
//    so the authorizer's cost is not hidden by IPC).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync, constants as SQLITE } from 'node:sqlite';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** @type {typeof import('../../host/src/index.js')} */
const { createGateway, createLogger } = await import(join(root, 'host/dist/index.js'));
const PROBES = Number(process.env.RUNS ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-bench-hardening-'));
const loadAtStart = loadavg();

/**
 * @typedef {{ runs: number; ok: number; p50_ms: number; p99_ms: number }} Stats
 */

/**
 * @param {number[]} samples ms of the calls that succeeded
 * @param {number} runs
 * @returns {Stats}
 */
function stats(samples, runs) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => +(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(3);
  return { runs, ok: samples.length, p50_ms: at(0.5), p99_ms: at(0.99) };
}

/**
 * Runs `fn` `runs` times one after another; failures (errors, non-200) count as not ok.
 * @param {number} runs
 * @param {() => Promise<boolean>} fn
 */
async function timed(runs, fn) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const ok = await fn().catch(() => false);
    if (ok) samples.push(performance.now() - started);
  }
  return stats(samples, runs);
}

/**
 * GET /health on a new connection, with a 5 s limit: true on a 200.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function healthOnce(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 5000, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode === 200));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/**
 * Keeps `count` attacking connections open, reopening each one the gateway closes, until stopped.
 * @param {number} port
 * @param {number} count
 * @param {(socket: import('node:net').Socket) => void} behave what each connection does once open
 */
function flood(port, count, behave) {
  let running = true;
  /** @type {Set<import('node:net').Socket>} */
  const open = new Set();
  const one = () => {
    if (!running) return;
    const socket = connect({ host: '127.0.0.1', port }, () => behave(socket));
    open.add(socket);
    socket.on('error', () => undefined);
    socket.resume();
    socket.once('close', () => {
      open.delete(socket);
      setImmediate(one);
    });
  };
  for (let i = 0; i < count; i++) one();
  return {
    stop() {
      running = false;
      for (const socket of open) socket.destroy();
    },
  };
}

/** @param {import('node:net').Socket} socket @param {number} port */
function trickle(socket, port) {
  socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const timer = setInterval(() => socket.write('1\r\n \r\n'), 1000);
  socket.once('close', () => clearInterval(timer));
}

/** @returns {Promise<{ child: import('node:child_process').ChildProcess; port: number }>} */
function startServe() {
  const child = spawn(process.execPath, [join(root, 'host/bin/mcp-edge.js'), 'serve', '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'serve')], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => {
      seen += chunk;
      const match = seen.match(/listening \{"url":"http:\/\/127\.0\.0\.1:(\d+)\/mcp"/);
      if (match) resolve({ child, port: Number(match[1]) });
    });
    child.once('exit', (code) => reject(new Error(`mcp-edge serve exited (${code}): ${seen}`)));
  });
}

async function underAttack() {
  const { child, port } = await startServe();
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  const call = async () => Array.isArray((await client.callTool({ name: 'count_tokens', arguments: { text: 'hello edge' } })).content);
  /** @param {string} name */
  const measure = async (name) => ({ name, health: await timed(PROBES, () => healthOnce(port)), tools_call: await timed(PROBES, call) });
  await timed(20, () => healthOnce(port)); // warm-up
  const rows = [await measure('no attack (baseline)')];
  const silent = flood(port, 500, () => undefined);
  await new Promise((r) => setTimeout(r, 1000));
  rows.push(await measure('500 silent connections'));
  silent.stop();
  const slow = flood(port, 150, (socket) => trickle(socket, port));
  await new Promise((r) => setTimeout(r, 1000));
  rows.push(await measure('150 trickling bodies'));
  slow.stop();
  await client.close();
  child.kill('SIGTERM');
  const [base] = rows;
  return rows.map((row) => ({
    ...row,
    health_ok_share: +(row.health.ok / row.health.runs).toFixed(3),
    ratio_health_p50: +(row.health.p50_ms / (base?.health.p50_ms ?? NaN)).toFixed(2),
    ratio_tools_call_p50: +(row.tools_call.p50_ms / (base?.tools_call.p50_ms ?? NaN)).toFixed(2),
  }));
}

async function shellIsolation() {
  const gateway = (/** @type {'pid-namespace' | 'none'} */ isolation) =>
    createGateway({
      config: { gateway: { bind_address: '127.0.0.1:0', data_dir: join(dir, `shell-${isolation}`) }, plugins: { shell: { enabled: true, commands: ['true'], roots: [dir], isolation } } },
      logger: createLogger('error', () => undefined),
      http: false,
    });
  const signal = new AbortController().signal;
  const runs = Math.max(20, Math.floor(PROBES / 2));
  const measured = [];
  for (const isolation of /** @type {const} */ (['pid-namespace', 'none'])) {
    const g = await gateway(isolation);
    const run = async () => !(await g.plugins.callTool('shell_run', { command: 'true' }, { signal })).isError;
    await timed(10, run);
    measured.push(await timed(runs, run));
    await g.close();
  }
  const [ns, none] = measured;
  return { name: 'shell_run true: pid-namespace vs isolation "none"', measured: ns, baseline: none, ratio_p50: +((ns?.p50_ms ?? NaN) / (none?.p50_ms ?? NaN)).toFixed(2) };
}

async function sqliteGuard() {
  const file = join(dir, 'bench.db');
  const seed = new DatabaseSync(file);
  seed.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const insert = seed.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < 1000; i++) insert.run(`value-${i}`);
  seed.close();
  const sql = 'SELECT id, v FROM t WHERE id BETWEEN ? AND ?';
  const plain = new DatabaseSync(file, { readOnly: true });
  const guarded = new DatabaseSync(file, { readOnly: true, defensive: true, limits: { attach: 0 } });
  guarded.exec('PRAGMA query_only = ON');
  // The plugin's read-only rule, reduced to its cost: a set lookup per action.
  const reads = new Set([SQLITE.SQLITE_SELECT, SQLITE.SQLITE_READ, SQLITE.SQLITE_FUNCTION]);
  guarded.setAuthorizer((action) => (reads.has(action) ? SQLITE.SQLITE_OK : SQLITE.SQLITE_DENY));
  const runs = PROBES * 50;
  /** @param {DatabaseSync} db */
  const query = (db) => async () => db.prepare(sql).all(1, 10).length === 10;
  const measured = await timed(runs, query(guarded));
  const baseline = await timed(runs, query(plain));
  plain.close();
  guarded.close();
  return { name: 'prepare + 10 rows: authorizer and limits vs none (node:sqlite, in process)', measured, baseline, ratio_p50: +(measured.p50_ms / baseline.p50_ms).toFixed(2) };
}

const attack = await underAttack();
const guards = [await shellIsolation(), await sqliteGuard()];
rmSync(dir, { recursive: true, force: true });
const machine = { cpus: cpus().length, loadAvg1mAtStart: +(loadAtStart[0] ?? 0).toFixed(2), loadAvg1mAtEnd: +(loadavg()[0] ?? 0).toFixed(2) };
const report = JSON.stringify({ bench: 'security/hardening', node: process.version, machine, under_attack: attack, guards }, null, 2);
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/hardening.json'), report + '\n');
console.log(report);
