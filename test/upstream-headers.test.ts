// Per-upstream headers reach the upstream on every request: a recording proxy
// on 127.0.0.1 sits between the gateway and a real server-everything, over
// Streamable HTTP and over the legacy HTTP+SSE transport.
import { spawn } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, EVERYTHING, freePort, NODE, startGateway, textOf, type UpstreamInput } from './helpers/gateway.js';
import { waitForOutput } from './helpers/processes.js';

const children: ReturnType<typeof spawn>[] = [];
const proxies: Server[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(proxies.map((p) => new Promise((r) => (p.closeAllConnections(), p.close(r)))));
});

async function everything(mode: 'streamableHttp' | 'sse'): Promise<number> {
  const port = await freePort();
  const child = spawn(NODE, [EVERYTHING, mode], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForOutput(child.stderr, /(listening|running) on port/i, 15_000);
  return port;
}

/** A pass-through proxy to 127.0.0.1:target that records each request's method, path and headers. */
async function recordingProxy(target: number): Promise<{ port: number; seen: { method: string; path: string; headers: IncomingHttpHeaders }[] }> {
  const seen: { method: string; path: string; headers: IncomingHttpHeaders }[] = [];
  const proxy = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    const out = request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${target}` } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  proxies.push(proxy);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return { port: (proxy.address() as AddressInfo).port, seen };
}

describe.each([['streamableHttp', '/mcp'], ['sse', '/sse']] as const)('upstream headers over %s', (mode, path) => {
  it('sends the configured headers on every request to the upstream', async () => {
    const proxy = await recordingProxy(await everything(mode));
    const upstream: UpstreamInput = {
      id: 'ev', transport: 'http', url: `http://127.0.0.1:${proxy.port}${path}`,
      headers: { authorization: 'Bearer edge-test-token', 'x-edge-tenant': 'pi-42' },
    };
    const gateway = await startGateway({ upstreams: [upstream] });
    const client = await connectClient(gateway);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'through the proxy' } }))).toContain('through the proxy');
    // Every request the gateway made after any fallback probe: the GET stream and each POST.
    const upstreamRequests = proxy.seen.filter((r) => r.method === 'POST' || r.method === 'GET');
    expect(upstreamRequests.length).toBeGreaterThanOrEqual(3);
    for (const r of upstreamRequests) {
      expect([r.method, r.path, r.headers.authorization, r.headers['x-edge-tenant']]).toEqual([r.method, r.path, 'Bearer edge-test-token', 'pi-42']);
    }
  });
});
