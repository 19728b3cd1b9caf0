// What the security layer adds to a tools/call's CPU, measured with every
// target served and loaded at the same time: on a shared machine whose load
// comes and goes, targets that take turns (run.mjs) see different machines,
// while targets running side by side see the same one. Each target is an
// `mcp-edge serve` with its config (off; api-key alone; no-audit: API keys +
// the [authorization] and [rate_limits] of bench/security/policy-toml.mjs;
// all-key: the same + [audit]) and its own load process (load-loop.mjs, 10
// sessions calling count_tokens, --rate calls/s in all). At the same fixed
// rate every gateway does the same work per second: a gateway's CPU per call
// depends on how busy it is (a busy loop reads several requests per wake),
// so targets loaded back to back, each as fast as it goes, would not compare.
// Over each window, each gateway's CPU per answered call from /proc (main
// thread, all threads); a target's added CPU is its figure minus off's over
// the same window, the median of the windows. Pick a rate every target keeps
// up with (callsPerSec says whether it did).
//
// With --base DIR (another built checkout, e.g. `git worktree add` of an
// older commit + npm run build), every target runs from both trees: the
// change's effect, measured side by side too.
//
//   node bench/auth/side-by-side.mjs [--targets off,api-key,no-audit,all-key] [--rate N] [--windows N] [--window-ms N] [--clients N] [--base DIR]
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { processCpuMs, threadCpuMs } from '../gateway/procstat.mjs';
import { round } from '../gateway/load.mjs';
import { POLICY_TOML } from '../security/policy-toml.mjs';
import { createKey, spawnServe } from './serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const { values: args } = parseArgs({ options: { targets: { type: 'string' }, windows: { type: 'string' }, 'window-ms': { type: 'string' }, clients: { type: 'string' }, base: { type: 'string' }, rate: { type: 'string' } } });
const RATE = Number(args.rate ?? 300);
const WINDOWS = Number(args.windows ?? 6);
const WINDOW_MS = Number(args['window-ms'] ?? 4000);
const CLIENTS = Number(args.clients ?? 10);
const KEYS = '[auth]\napi_keys = true\n';
const AUDIT_OFF = '[audit]\nenabled = false\n';
/** @type {Record<string, string>} */
const CONFIGS = { off: AUDIT_OFF, 'api-key': KEYS + AUDIT_OFF, 'no-audit': `${KEYS}${POLICY_TOML}\n${AUDIT_OFF}`, 'all-key': `${KEYS}${POLICY_TOML}\n[audit]\nenabled = true\n` };
const names = (args.targets ?? 'off,api-key,no-audit,all-key').split(',');
for (const n of names) if (!(n in CONFIGS)) throw new Error(`unknown target ${n}: use ${Object.keys(CONFIGS).join(', ')}`);
if (!names.includes('off')) names.unshift('off');
/** @type {Record<string, string>} */
const trees = { this: root, ...(args.base ? { base: resolve(args.base) } : {}) };
const scratch = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-side-'));

/** @typedef {{ label: string; tree: string; name: string; pid: number; gateway: import('node:child_process').ChildProcess; load?: import('node:child_process').ChildProcess }} Target */

/** Starts one target: its data dir and config, a key when it asks for them, the gateway. @returns {Promise<Target & { url: string; key: string }>} */
async function start(/** @type {string} */ tree, /** @type {string} */ name) {
  const dir = join(scratch, `${tree}-${name}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'mcp-edge.toml'), CONFIGS[name] ?? '');
  const cli = join(/** @type {string} */ (trees[tree]), 'host/bin/mcp-edge.js');
  const key = CONFIGS[name]?.includes('api_keys') ? await createKey(cli, dir, 'bench') : '';
  const { child: gateway, url: listening } = spawnServe({ cli, config: join(dir, 'mcp-edge.toml'), dataDir: dir, label: `${tree} ${name}` });
  const url = await listening;
  return { label: `${tree} ${name}`, tree, name, pid: /** @type {number} */ (gateway.pid), gateway, url, key };
}

/** @param {Target} t @returns {Promise<number>} */
const answered = (t) => new Promise((r) => {
  t.load?.once('message', (n) => r(/** @type {number} */ (n)));
  t.load?.send('count');
});
/** @param {Target[]} all */
const snapshot = (all) => Promise.all(all.map(async (t) => ({ calls: await answered(t), main: threadCpuMs(t.pid), all: processCpuMs(t.pid) })));
/** @param {number[]} v */
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;

/** @type {Target[]} */
const targets = [];
try {
  const loadAtStart = round(os.loadavg()[0] ?? NaN, 2);
  for (const tree of Object.keys(trees)) for (const name of names) targets.push(await start(tree, name));
  for (const t of /** @type {(Target & { url: string; key: string })[]} */ (targets)) {
    t.load = fork(join(here, 'load-loop.mjs'), [t.url, t.key, String(CLIENTS), String(RATE)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise((r) => t.load?.once('message', r));
  }
  await new Promise((r) => setTimeout(r, 2000)); // warm-up: every target's JIT, caches and audit writer running
  /** @type {Record<string, { main: number[]; all: number[]; rate: number[] }>} */
  const windows = Object.fromEntries(targets.map((t) => [t.label, { main: [], all: [], rate: [] }]));
  for (let w = 0; w < WINDOWS; w++) {
    const a = await snapshot(targets);
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const b = await snapshot(targets);
    targets.forEach((t, i) => {
      const [before, after] = [/** @type {(typeof a)[number]} */ (a[i]), /** @type {(typeof b)[number]} */ (b[i])];
      const calls = Math.max(1, after.calls - before.calls);
      const w8 = /** @type {{ main: number[]; all: number[]; rate: number[] }} */ (windows[t.label]);
      w8.main.push(((after.main - before.main) * 1000) / calls);
      w8.all.push(((after.all - before.all) * 1000) / calls);
      w8.rate.push(calls / (WINDOW_MS / 1000));
    });
  }
  /** @type {Record<string, { mainThreadCpuUsPerCall: number; addedMainUs: number; allThreadsCpuUsPerCall: number; addedAllUs: number; callsPerSec: number }>} */
  const perTarget = {};
  for (const t of targets) {
    const mine = /** @type {{ main: number[]; all: number[]; rate: number[] }} */ (windows[t.label]);
    const off = /** @type {{ main: number[]; all: number[]; rate: number[] }} */ (windows[`${t.tree} off`]);
    perTarget[t.label] = {
      mainThreadCpuUsPerCall: round(median(mine.main), 1),
      addedMainUs: round(median(mine.main.map((x, i) => x - (off.main[i] ?? NaN))), 1),
      allThreadsCpuUsPerCall: round(median(mine.all), 1),
      addedAllUs: round(median(mine.all.map((x, i) => x - (off.all[i] ?? NaN))), 1),
      callsPerSec: round(median(mine.rate), 0),
    };
  }
  const report = {
    bench: 'auth/side-by-side',
    note: 'every target served and loaded at once, each at the same fixed rate; added = the target minus off of the same tree over the same window (median of windows); CPU from /proc, 10 ms ticks',
    machine: { cpus: os.cpus().length, node: process.version, loadAvg1mAtStart: loadAtStart, loadAvg1mAtEnd: round(os.loadavg()[0] ?? NaN, 2) },
    settings: { windows: WINDOWS, windowMs: WINDOW_MS, clients: CLIENTS, callsPerSecPerTarget: RATE, trees },
    perTarget,
  };
  const text = JSON.stringify(report, null, 2) + '\n';
  process.stdout.write(text);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/auth-side-by-side.json'), text);
} finally {
  for (const t of targets) t.load?.send('stop');
  await new Promise((r) => setTimeout(r, 500));
  for (const t of targets) {
    t.load?.kill();
    t.gateway.kill('SIGTERM');
  }
  await Promise.all(targets.map((t) => (t.gateway.exitCode === null ? new Promise((r) => t.gateway.once('exit', r)) : undefined)));
  rmSync(scratch, { recursive: true, force: true });
}
