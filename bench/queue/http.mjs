// Deferred tools/call over Streamable HTTP, end to end: clients send
// task-augmented calls to a gateway process (its destination is down, so each
// call is queued, fsync'd and answered with a task). Baseline in the same run:
// the same clients calling the built-in edge_compress tool (no queue).
// The load generator is the lean node:http client of bench/gateway (one MCP
// session per client, keep-alive): the SDK client spent a whole core per
// 1,000 calls/s, so on two cores it, not the gateway, set the figure.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { McpHttpClient } from '../gateway/client.mjs';

const N = Number(process.env.N ?? 6000);
const CLIENTS = Number(process.env.CLIENTS ?? 8);
const PER_CLIENT = Number(process.env.PER_CLIENT ?? 16);
const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * @param {string} dir
 * @param {string} destUrl
 */
export function startGateway(dir, destUrl, window = 1) {
  const child = spawn(process.execPath, [join(here, 'gateway.mjs'), dir, destUrl, String(window)], { stdio: ['ignore', 'pipe', 'inherit'] });
  /** @type {Promise<string>} */
  const url = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => {
      out += c;
      const ready = out.match(/READY (\S+)/)?.[1];
      if (ready) resolve(ready);
    });
    child.once('exit', () => reject(new Error('gateway exited')));
  });
  return { child, url };
}

/**
 * Calls per second of `call`, N calls over CLIENTS sessions with PER_CLIENT in flight each.
 * @param {string} url
 * @param {(client: McpHttpClient, n: number) => Promise<void>} call
 */
async function run(url, call) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS * PER_CLIENT });
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const c = new McpHttpClient(url, agent, '2025-11-25');
      await c.initialize();
      return c;
    }),
  );
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    clients.flatMap((c) =>
      Array.from({ length: PER_CLIENT }, async () => {
        while (next < N) await call(c, next++);
      }),
    ),
  );
  const secs = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  agent.destroy();
  return N / secs;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-http-'));
  const gw = startGateway(dir, 'http://127.0.0.1:9/mcp');
  process.on('exit', () => gw.child.kill('SIGKILL'));
  const url = await gw.url;
  const text = 'x'.repeat(900);
  const plain = await run(url, async (c) => {
    const result = await c.callTool('edge_compress', { text });
    if (result.isError || !Array.isArray(result.content)) throw new Error(`edge_compress failed: ${JSON.stringify(result).slice(0, 200)}`);
  });
  const deferred = await run(url, async (c, i) => {
    const { result } = await c.request('tools/call', { name: 'record', arguments: { n: i, text }, task: { ttl: 3_600_000 } });
    const { task } = /** @type {import('@modelcontextprotocol/sdk/types.js').CreateTaskResult} */ (result);
    if (task?.status !== 'working') throw new Error(`unexpected task status ${JSON.stringify(result).slice(0, 200)}`);
  });
  const status = await (await fetch(new URL('/v1/queue/status', url))).json();
  gw.child.kill('SIGTERM');
  await new Promise((r) => gw.child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  if (status.depth !== N) throw new Error(`expected ${N} queued, found ${status.depth}`);
  console.log(
    JSON.stringify({
      bench: 'queue-http-deferred-calls',
      calls: N,
      clients: CLIENTS,
      in_flight_per_client: PER_CLIENT,
      deferred_calls_per_second: Math.round(deferred),
      baseline_plain_tool_calls_per_second: Math.round(plain),
      ratio_vs_plain_calls: Number((deferred / plain).toFixed(3)),
      goal_per_second: 2000,
    }),
  );
}
