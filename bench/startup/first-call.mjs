// What the first calls after a start pay for what is loaded on first use: the
// first and the second of each call, right after /health answers, on a fresh
// `mcp-edge serve` (one stdio upstream). The second is the steady cost; the
// difference is what loading on first use costs. Baseline in the same run: a
// bare node:http server's first and second request.
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpHttpClient } from '../gateway/client.mjs';
import { machine, replicaUpstreams, ROOT, startBare, startGateway } from '../memory/common.mjs';

const RUNS = Number(process.env.RUNS ?? 5);

/** ms of `fn`. @param {() => Promise<unknown>} fn */
async function timed(fn) {
  const started = performance.now();
  await fn();
  return performance.now() - started;
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

/** @type {Record<string, { first: number[]; second: number[] }>} */
const edge = Object.fromEntries(Object.keys(calls).map((k) => [k, { first: [], second: [] }]));
const bare = { first: /** @type {number[]} */ ([]), second: /** @type {number[]} */ ([]) };
for (let run = 0; run < RUNS; run++) {
  const server = await startBare();
  const bareAgent = new http.Agent({ keepAlive: true });
  const get = () => new Promise((resolve, reject) => http.get(server.url, { agent: bareAgent }, (res) => res.resume().on('end', resolve)).on('error', reject));
  bare.first.push(await timed(get));
  bare.second.push(await timed(get));
  bareAgent.destroy();
  await server.stop();

  const gateway = await startGateway(replicaUpstreams(1));
  const agent = new http.Agent({ keepAlive: true });
  const client = new McpHttpClient(gateway.url, agent);
  await client.initialize();
  // The upstream connects in the background; wait for its tool so the first call is not a wait for the upstream.
  for (let i = 0; i < 200; i++) {
    const { result } = await client.request('tools/list', {});
    if (/** @type {{ tools: { name: string }[] }} */ (result).tools.some((t) => t.name === 'whoami')) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  for (const [name, call] of Object.entries(calls)) {
    const samples = /** @type {{ first: number[]; second: number[] }} */ (edge[name]);
    samples.first.push(await timed(() => call(client)));
    samples.second.push(await timed(() => call(client)));
  }
  agent.destroy();
  await gateway.stop();
}

const summary = (/** @type {{ first: number[]; second: number[] }} */ s) => ({ first_ms: median(s.first), second_ms: median(s.second), first_call_extra_ms: +(median(s.first) - median(s.second)).toFixed(1) });
const report = {
  bench: 'first-call-after-start',
  runs: RUNS,
  note: 'tools/list is not the first request: the session was initialized and tools/list polled until the upstream was up',
  baseline_bare_node_http: summary(bare),
  mcp_edge: Object.fromEntries(Object.entries(edge).map(([k, v]) => [k, summary(v)])),
  machine: machine(),
};
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/first-call.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
