// Profiles `mcp-edge serve` under load, for finding where the security layer's
// cost goes on the request path (bench/auth/run.mjs measures it; this shows
// where it is spent): starts the gateway under `node --cpu-prof` with
// everything off ("off") or with API keys + [authorization] + [rate_limits] +
// [audit] ("all-key", the config of bench/auth/run.mjs), loads it with
// load-child.mjs (10 sessions calling count_tokens), stops it with SIGTERM so
// that V8 writes the profile, and prints the path of the .cpuprofile.
// Summarize one with bench/auth/profile-summary.mjs.
//
//   node bench/auth/profile.mjs all-key [--calls N] [--out DIR] [--no-prof]
//
// Targets: off, api-key, all-key, and all-key without one part (no-audit,
// no-policy: neither [authorization] nor [rate_limits]), audit alone; and
// for bench/ops/overhead.mjs's parts: bare (off without [analytics], which
// is on by default) and telemetry (off plus [telemetry]).
// Also prints the gateway's CPU per call from /proc (main thread and all
// threads, from the sessions' start to the last answer); --no-prof runs
// without the profiler, for those figures alone.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { processCpuMs, threadCpuMs } from '../gateway/procstat.mjs';
import { POLICY_TOML } from '../security/policy-toml.mjs';
import { createKey, spawnServe } from './serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '../../host/bin/mcp-edge.js');
const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { calls: { type: 'string' }, out: { type: 'string' }, 'no-prof': { type: 'boolean' }, audit: { type: 'string' } } });
// --audit 'flush_interval_ms = 50': more keys for [audit] when it is on.
const AUDIT = `[audit]\nenabled = true\n${args.audit ? `${args.audit}\n` : ''}`;
const KEYS = '[auth]\napi_keys = true\n';
/** Each target's mcp-edge.toml. @type {Record<string, string>} */
const TARGETS = {
  off: '[audit]\nenabled = false\n',
  'api-key': `${KEYS}[audit]\nenabled = false\n`,
  'all-key': `${KEYS}${POLICY_TOML}\n${AUDIT}`,
  'no-audit': `${KEYS}${POLICY_TOML}\n[audit]\nenabled = false\n`,
  'no-policy': `${KEYS}${AUDIT}`,
  audit: AUDIT,
  // "off" keeps [analytics] on (its default): bare turns it off too; telemetry adds [telemetry], exporting
  // every second to a collector that is not there (so the outage buffer takes every batch).
  bare: '[audit]\nenabled = false\n[analytics]\nenabled = false\n',
  telemetry: '[audit]\nenabled = false\n[telemetry]\nenabled = true\nendpoints = ["http://127.0.0.1:9"]\nexport_interval_seconds = 1\n',
};
const target = positionals[0] ?? 'all-key';
const toml = TARGETS[target];
if (toml === undefined) throw new Error(`target: one of ${Object.keys(TARGETS).join(', ')}`);
const calls = Number(args.calls ?? 40000);
const out = resolve(args.out ?? join(os.tmpdir(), 'mcp-edge-profiles'));
mkdirSync(out, { recursive: true });

const dir = mkdtempSync(join(os.tmpdir(), 'mcp-edge-profile-'));
const config = join(dir, 'mcp-edge.toml');
writeFileSync(config, toml);

const key = !toml.includes('api_keys') ? '' : await createKey(CLI, dir, 'profile');
const before = new Set(readdirSync(out));
const profiler = args['no-prof'] ? [] : ['--cpu-prof', '--cpu-prof-dir', out];
const { child: gateway, url: listening } = spawnServe({ cli: CLI, config, dataDir: dir, label: `serve ${target}`, nodeArgs: profiler });
const url = await listening;
const load = fork(join(here, 'load-child.mjs'), [url, key, String(calls), '10'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
let wall = '';
// The load child prints its wall time as soon as the last call is answered (then closes its sessions).
const answered = new Promise((r) => load.stdout?.setEncoding('utf8').on('data', (c) => { wall += c; if (wall.includes('\n')) r(undefined); }));
const pid = /** @type {number} */ (gateway.pid);
/** @type {[number, number] | undefined} */
let atStart;
load.once('message', () => (atStart = [threadCpuMs(pid), processCpuMs(pid)]));
await answered;
const [main0 = NaN, all0 = NaN] = atStart ?? [];
const perCall = (/** @type {number} */ ms) => Math.round((ms * 10_000) / calls) / 10;
const cpu = { mainThreadCpuUsPerCall: perCall(threadCpuMs(pid) - main0), processCpuUsPerCall: perCall(processCpuMs(pid) - all0) };
await new Promise((r) => load.once('close', r));
gateway.kill('SIGTERM');
await new Promise((r) => gateway.once('close', r));
rmSync(dir, { recursive: true, force: true });
const written = readdirSync(out).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
process.stdout.write(`${JSON.stringify({ target, calls, wallMsForCalls: Number(wall.trim()), ...cpu, loadAvg1m: os.loadavg()[0], profiles: written.map((f) => join(out, f)) })}\n`);
