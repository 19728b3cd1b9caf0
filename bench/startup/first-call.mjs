// What the first calls after a start pay for what is loaded on first use: the
// first and the second of each call, right after /health answers, on a fresh
// `mcp-edge serve` (one stdio upstream). The second is the steady cost; the
// difference is what loading on first use costs. The first initialize loads the
// MCP side (the SDK's Server and schemas, the /mcp endpoint): it is timed
// against a second client's initialize, on a gateway on its defaults (a start
// of its own) and on the one with the upstream. Baseline in the same run: a
// bare node:http server's first and second request. The gateway's RSS is read
// before the first calls and after all of them (both vocabularies loaded).
import http from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpHttpClient } from '../gateway/client.mjs';
import { machine, replicaUpstreams, ROOT, rssOf, startBare, startGateway } from '../memory/common.mjs';

const RUNS = Number(process.env.RUNS ?? 5);

/**
 * ns of CPU the main thread of `pid` has used (the first field of /proc/PID/schedstat): the server's
 * own work, which the other processes on a loaded machine inflate far less than the wall time.
 * @param {number} pid
 */
const cpuNs = (pid) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);

/** @typedef {{ first: number[]; second: number[]; firstCpu: number[]; secondCpu: number[] }} Samples */
const samplesOf = () => /** @type {Samples} */ ({ first: [], second: [], firstCpu: [], secondCpu: [] });

/** `fn` run twice, its ms and the server's CPU ms each time. @param {Samples} samples @param {number} pid @param {() => Promise<unknown>} fn @param {() => Promise<unknown>} [again] */
async function twice(samples, pid, fn, again = fn) {
  for (const [run, ms, cpu] of /** @type {const} */ ([[fn, samples.first, samples.firstCpu], [again, samples.second, samples.secondCpu]])) {
    const cpuStart = cpuNs(pid);
    const started = performance.now();
    await run();
    ms.push(performance.now() - started);
    cpu.push((cpuNs(pid) - cpuStart) / 1e6);
  }
}

/** @param {number[]} xs */
const median = (xs) => +([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN).toFixed(1);

const calls = {
  'tools/list': (/** @type {McpHttpClient} */ c) => c.request('tools/list', {}),
  'upstream tool (whoami)': (/** @type {McpHttpClient} */ c) => c.callTool('whoami'),
  'edge_compress (zstd)': (/** @type {McpHttpClient} */ c) => c.callTool('edge_compress', { text: 'hello '.repeat(100), algorithm: 'zstd' }),
  'count_tokens (cl100k_base)': (/** @type {McpHttpClient} */ c) => c.callTool('count_tokens', { text: 'hello world' }),
  'count_tokens (o200k_base)': (/** @type {McpHttpClient} */ c) => c.callTool('count_tokens', { text: 'hello world', tokenizer: 'o200k_base' }),
};

const IDLE_INITIALIZE = 'initialize (no upstream: loads the SDK)';
const UPSTREAM_INITIALIZE = "initialize (one upstream: its Client loaded the SDK's schemas at start)";

/** The first client's initialize and a second client's, right after the start. @param {{ url: string; child: import('node:child_process').ChildProcess }} gateway @param {http.Agent} agent @param {string} name */
async function initializeTwice(gateway, agent, name) {
  const client = new McpHttpClient(gateway.url, agent);
  await twice(/** @type {Samples} */ (edge[name]), gateway.child.pid ?? 0, () => client.initialize(), () => new McpHttpClient(gateway.url, agent).initialize());
  return client;
}

/** @type {Record<string, Samples>} */
const edge = Object.fromEntries([IDLE_INITIALIZE, UPSTREAM_INITIALIZE, ...Object.keys(calls)].map((k) => [k, samplesOf()]));
const bare = samplesOf();
const rss = { before_mb: /** @type {number[]} */ ([]), after_mb: /** @type {number[]} */ ([]) };
for (let run = 0; run < RUNS; run++) {
  const server = await startBare();
  const bareAgent = new http.Agent({ keepAlive: true });
  const get = () => new Promise((resolve, reject) => http.get(server.url, { agent: bareAgent }, (res) => res.resume().on('end', resolve)).on('error', reject));
  await twice(bare, server.child.pid ?? 0, get);
  bareAgent.destroy();
  await server.stop();

  // A gateway on its defaults: nothing of the MCP SDK is loaded until the first initialize.
  const idle = await startGateway();
  const idleAgent = new http.Agent({ keepAlive: true });
  await initializeTwice(idle, idleAgent, IDLE_INITIALIZE);
  idleAgent.destroy();
  await idle.stop();

  const gateway = await startGateway(replicaUpstreams(1));
  const agent = new http.Agent({ keepAlive: true });
  const client = await initializeTwice(gateway, agent, UPSTREAM_INITIALIZE);
  // The upstream connects in the background; wait for its tool so the first call is not a wait for the upstream.
  for (let i = 0; i < 200; i++) {
    const { result } = await client.request('tools/list', {});
    if (/** @type {{ tools: { name: string }[] }} */ (result).tools.some((t) => t.name === 'whoami')) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  rss.before_mb.push(rssOf(gateway.child.pid ?? 0).rss_mb);
  for (const [name, call] of Object.entries(calls)) {
    await twice(/** @type {Samples} */ (edge[name]), gateway.child.pid ?? 0, () => call(client));
  }
  rss.after_mb.push(rssOf(gateway.child.pid ?? 0).rss_mb);
  agent.destroy();
  await gateway.stop();
}

const summary = (/** @type {Samples} */ s) => ({
  first_ms: median(s.first),
  second_ms: median(s.second),
  first_call_extra_ms: +(median(s.first) - median(s.second)).toFixed(1),
  first_cpu_ms: median(s.firstCpu),
  second_cpu_ms: median(s.secondCpu),
  first_call_extra_cpu_ms: +(median(s.firstCpu) - median(s.secondCpu)).toFixed(1),
});
const report = {
  bench: 'first-call-after-start',
  runs: RUNS,
  note: 'initialize: the first client\'s against a second client\'s, right after the start, on a gateway on its defaults and on one with an upstream; tools/list is not the first request: the session was initialized and tools/list polled until the upstream was up; cpu: the server main thread\'s CPU during the call (/proc/PID/schedstat)',
  baseline_bare_node_http: summary(bare),
  mcp_edge: Object.fromEntries(Object.entries(edge).map(([k, v]) => [k, summary(v)])),
  mcp_edge_rss: { before_first_calls_mb: median(rss.before_mb), after_first_calls_mb: median(rss.after_mb) },
  machine: machine(),
};
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/first-call.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
