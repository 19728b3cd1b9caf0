// Memory of mcp-edge on a small machine, against a bare node:http server
// started the same way in the same run:
//   idle      RSS right after start (settled 3 s), no upstreams; again at 15 s,
//             once V8's memory reducer has shrunk the idle heap
//   sessions  RSS with 100 idle MCP sessions and 10 stdio upstreams
//   big       a 64 MiB count_tokens: how long, the gateway's RSS peak, and
//             /health latency while it runs (vs. /health on the idle gateway)
// `node bench/memory/run.mjs [idle] [sessions] [big]` (all by default). The
// 10-minute soak is soak.mjs. Results: bench/results/memory.json.
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpHttpClient } from '../gateway/client.mjs';
import { healthOnce, machine, quantile, replicaUpstreams, ROOT, rssOf, sleep, startBare, startGateway } from './common.mjs';

const SETTLE_MS = 3000;
const parts = process.argv.slice(2);
const want = (/** @type {string} */ part) => parts.length === 0 || parts.includes(part);

/** Waits until /health answers with `status`. @param {string} url @param {string} status */
async function healthIs(url, status, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const body = await fetch(new URL('/health', url)).then((r) => r.json()).catch(() => undefined);
    if (body?.status === status) return;
    await sleep(50);
  }
  throw new Error(`/health never said ${status}`);
}

/** V8's memory reducer shrinks an idle heap about 8 s after the last allocations; the second reading comes after it. */
const LATER_MS = 15_000;

async function idle() {
  const bare = await startBare();
  await sleep(SETTLE_MS);
  const baseline = rssOf(bare.child.pid ?? 0);
  await sleep(LATER_MS - SETTLE_MS);
  const baselineLater = rssOf(bare.child.pid ?? 0);
  await bare.stop();
  const gateway = await startGateway();
  await healthIs(gateway.url, 'ok');
  await sleep(SETTLE_MS);
  const edge = rssOf(gateway.child.pid ?? 0);
  await sleep(LATER_MS - SETTLE_MS);
  const edgeLater = rssOf(gateway.child.pid ?? 0);
  await gateway.stop();
  return {
    baseline_bare_node_http: baseline,
    mcp_edge: edge,
    added_mb: +(edge.rss_mb - baseline.rss_mb).toFixed(1),
    after_15_s: { baseline_bare_node_http: baselineLater, mcp_edge: edgeLater, added_mb: +(edgeLater.rss_mb - baselineLater.rss_mb).toFixed(1) },
  };
}

const SESSIONS = 100;
const UPSTREAMS = 10;

async function sessions() {
  // Baseline: the bare server holding as many idle keep-alive connections as the gateway holds sessions.
  const bare = await startBare();
  const bareAgent = new http.Agent({ keepAlive: true, maxSockets: SESSIONS });
  await Promise.all(Array.from({ length: SESSIONS }, () => new Promise((resolve, reject) => {
    http.get(bare.url, { agent: bareAgent }, (res) => res.resume().on('end', resolve)).on('error', reject);
  })));
  await sleep(SETTLE_MS);
  const baseline = rssOf(bare.child.pid ?? 0);
  bareAgent.destroy();
  await bare.stop();

  const toml = `[gateway]\nmax_sessions_per_principal = ${SESSIONS * 2}\nmax_connections = ${SESSIONS * 2}\nsession_unused_seconds = 0\n${replicaUpstreams(UPSTREAMS)}`;
  const gateway = await startGateway(toml);
  await healthIs(gateway.url, 'ok');
  const agent = new http.Agent({ keepAlive: true, maxSockets: SESSIONS });
  const clients = Array.from({ length: SESSIONS }, () => new McpHttpClient(gateway.url, agent));
  for (const client of clients) await client.initialize();
  // Every session has listed the tools once, as a client does after initialize.
  await Promise.all(clients.map((c) => c.request('tools/list', {})));
  await sleep(SETTLE_MS);
  const edge = rssOf(gateway.child.pid ?? 0);
  agent.destroy();
  await gateway.stop();
  return { sessions: SESSIONS, upstreams: UPSTREAMS, baseline_bare_node_http_with_connections: baseline, mcp_edge: edge };
}

const BIG = 1 << 26; // 64 MiB, count_tokens' limit

/** /health latencies probed every `gapMs` until `until` settles. @param {string} url @param {Promise<unknown>} until */
async function probeWhile(url, until, gapMs = 10) {
  let done = false;
  until.finally(() => (done = true)).catch(() => undefined);
  const samples = [];
  while (!done) {
    samples.push(await healthOnce(url));
    await sleep(gapMs);
  }
  return samples;
}

/** @param {number[]} samples */
const latency = (samples) => ({ probes: samples.length, p50_ms: +quantile(samples, 0.5).toFixed(1), p99_ms: +quantile(samples, 0.99).toFixed(1), max_ms: +Math.max(...samples).toFixed(1) });

async function big() {
  const gateway = await startGateway(`[gateway]\nmax_body_bytes = ${BIG + (1 << 20)}\nrequest_timeout_ms = 300000\nbody_timeout_ms = 300000\n`);
  const pid = gateway.child.pid ?? 0;
  const agent = new http.Agent({ keepAlive: true });
  const client = new McpHttpClient(gateway.url, agent);
  await client.initialize();
  const idleProbes = await probeWhile(gateway.url, sleep(2000));
  const before = rssOf(pid);
  const text = 'The quick brown fox jumps over the lazy dog. 0123456789 '.repeat(Math.ceil(BIG / 56)).slice(0, BIG);
  const started = performance.now();
  const call = client.callTool('count_tokens', { text });
  const busyProbes = await probeWhile(gateway.url, call);
  const result = await call;
  const ms = performance.now() - started;
  await sleep(SETTLE_MS);
  const after = rssOf(pid);
  agent.destroy();
  await gateway.stop();
  return {
    text_bytes: BIG,
    tokens: /** @type {{ tokens?: number }} */ (result.structuredContent)?.tokens,
    call_ms: Math.round(ms),
    health_while_idle: latency(idleProbes),
    health_while_counting: latency(busyProbes),
    rss_before_mb: before.rss_mb,
    rss_peak_mb: after.peak_mb,
    rss_after_mb: after.rss_mb,
  };
}

const report = { bench: 'memory', machine: machine() };
if (want('idle')) Object.assign(report, { idle: await idle() });
if (want('sessions')) Object.assign(report, { sessions: await sessions() });
if (want('big')) Object.assign(report, { big_count_tokens: await big() });
Object.assign(report, { machine_after: machine() });
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/memory.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
