// Power: the gateway's own CPU use while idle (5 stdio upstreams), normal mode
// against low power mode, measured side by side in the same run from
// /proc/<pid>/stat; and the wake-up latency of the first call after sleep
// (HTTP and stdio upstream) against a warm call in the same run.
//   node bench/power/run.mjs    (IDLE_SECONDS=60, SETTLE_SECONDS=45, WAKES=5 by default)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(root, 'host/bin/mcp-edge.js');
const REPLICA = join(root, 'test/fixtures/replica-server.mjs');
const FIXTURE = join(root, 'test/fixtures/conformance-server/main.mjs');
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 60);
const WAKES = Number(process.env.WAKES ?? 5);
const SETTLE_SECONDS = Number(process.env.SETTLE_SECONDS ?? 45);
/** @type {import('node:child_process').ChildProcess[]} */
const children = [];

/**
 * CPU time (user + system, ms) of one process, from /proc/<pid>/stat (USER_HZ 100).
 * @param {number} pid
 */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/**
 * @param {import('node:stream').Readable} stream
 * @param {RegExp} pattern
 * @returns {Promise<RegExpMatchArray>}
 */
function waitForLine(stream, pattern, ms = 30_000) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms:\n${seen}`)), ms);
    stream.setEncoding('utf8');
    stream.on('data', (/** @type {string} */ chunk) => {
      seen += chunk;
      const m = seen.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

/** `mcp-edge serve` with `toml` as its config; resolves with its pid and base URL. */
/**
 * @param {string} toml
 * @returns {Promise<{ pid: number; base: string; url: string }>}
 */
async function startGateway(toml) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-power-'));
  writeFileSync(join(dir, 'mcp-edge.toml'), toml);
  const child = spawn(process.execPath, [CLI, 'serve', '-c', join(dir, 'mcp-edge.toml'), '-b', '127.0.0.1:0', '-d', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  const url = String((await waitForLine(/** @type {import('node:stream').Readable} */ (child.stderr), /listening \{"url":"([^"]+)"/))[1]);
  const base = url.replace(/\/mcp$/, '');
  // Every upstream up before measuring.
  for (let i = 0; i < 600; i++) {
    const health = await (await fetch(`${base}/health`)).json();
    /** @type {{ kind: string; state: string }[]} */
    const providers = health.providers;
    if (providers.filter((p) => p.kind === 'upstream').every((p) => p.state === 'up')) return { pid: Number(child.pid), base, url };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('upstreams not up');
}

const stdioUpstreams = (/** @type {number} */ n) =>
  Array.from({ length: n }, (_, i) => `[[upstreams]]\nid = "s${i}"\ntransport = "stdio"\ncommand = "${process.execPath}"\nargs = ["${REPLICA}"]\nenv = { REPLICA_NAME = "s${i}" }\n`).join('\n');

async function idleCpu() {
  const [normal, low] = await Promise.all([
    startGateway(`[power]\nlow_power_mode = false\n\n${stdioUpstreams(5)}`),
    startGateway(`[power]\nlow_power_mode = true\nsleep_on_idle_ms = 1000\n\n${stdioUpstreams(5)}`),
  ]);
  // Let start-up work settle before counting (the low power gateway falls asleep after 1 s; V8
  // collects the start-up garbage some seconds after the last allocation): a steady idle is measured.
  await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
  const before = [cpuMs(normal.pid), cpuMs(low.pid)];
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const wallMs = performance.now() - t0;
  const used = [cpuMs(normal.pid) - Number(before[0]), cpuMs(low.pid) - Number(before[1])];
  const [usedNormal, usedLow] = /** @type {[number, number]} */ (used);
  const lowStatus = await (await fetch(`${low.base}/v1/power`)).json();
  const pct = (/** @type {number} */ ms) => Math.round((ms / wallMs) * 100 * 1000) / 1000;
  return {
    seconds: Math.round(wallMs / 100) / 10,
    upstreams: 5,
    normal: { cpu_ms: usedNormal, cpu_percent_of_one_core: pct(usedNormal) },
    low_power: { cpu_ms: usedLow, cpu_percent_of_one_core: pct(usedLow), asleep: lowStatus.asleep },
    ratio_low_over_normal: usedNormal > 0 ? Math.round((usedLow / usedNormal) * 1000) / 1000 : null,
    settle_seconds: SETTLE_SECONDS,
    note: 'the gateway process only (not its upstream children); /proc ticks are 10 ms; counted after settle_seconds',
  };
}

async function wakeLatency() {
  const fixture = spawn(process.execPath, [FIXTURE, '--http', '--port', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(fixture);
  const httpUrl = String((await waitForLine(/** @type {import('node:stream').Readable} */ (fixture.stdout), /listening (\S+)/))[1]);
  const gw = await startGateway(
    `[power]\nsleep_on_idle_ms = 300\n\n[[upstreams]]\nid = "web"\ntransport = "http"\nurl = "${httpUrl}"\n\n[[upstreams]]\nid = "kid"\ntransport = "stdio"\ncommand = "${process.execPath}"\nargs = ["${REPLICA}"]\nenv = { REPLICA_NAME = "kid" }\n`,
  );
  const client = new Client({ name: 'power-bench', version: '0.1.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
  const names = (await client.listTools()).tools.map((t) => t.name);
  const http = names.find((n) => n.endsWith('test_simple_text'));
  const stdio = names.find((n) => n.endsWith('whoami'));
  const timed = async (/** @type {string} */ name) => {
    const t = performance.now();
    await client.callTool({ name, arguments: {} });
    return performance.now() - t;
  };
  const asleep = async () => {
    for (let i = 0; i < 400; i++) {
      if ((await (await fetch(`${gw.base}/v1/power`)).json()).asleep) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the gateway did not fall asleep');
  };
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [label, name] of /** @type {[string, string][]} */ ([['http_upstream', String(http)], ['stdio_upstream', String(stdio)]])) {
    const warm = [];
    const wake = [];
    for (let i = 0; i < WAKES; i++) {
      await timed(name);
      warm.push(await timed(name));
      await asleep();
      wake.push(await timed(name));
    }
    const median = (/** @type {number[]} */ xs) => Number([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
    const r = (/** @type {number} */ x) => Math.round(x * 100) / 100;
    out[label] = { warm_ms_median: r(median(warm)), wake_ms_median: r(median(wake)), wake_ms_max: r(Math.max(...wake)), ratio_wake_over_warm: r(median(wake) / median(warm)) };
  }
  await client.close();
  return out;
}

try {
  const load = loadavg().map((x) => Math.round(x * 100) / 100);
  const idle = await idleCpu();
  const wake = await wakeLatency();
  process.stdout.write(`${JSON.stringify({ bench: 'power', idle_cpu: idle, wake_up: wake, loadavg_at_start: load, loadavg_at_end: loadavg().map((x) => Math.round(x * 100) / 100) }, null, 2)}\n`);
} finally {
  for (const c of children) c.kill('SIGTERM');
}
