// DNS-rebinding protection and bad HTTP input, against an in-process gateway.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, QueueError, type Gateway } from '../host/src/index.js';
import { answerError } from '../host/src/gateway/respond.js';
import { tempDir } from './helpers/processes.js';

let gateway: Gateway;
let port: number;

beforeAll(async () => {
  gateway = await createGateway({
    config: {
      gateway: {
        bind_address: '127.0.0.1:0',
        data_dir: tempDir(),
        max_body_bytes: 4096,
        allowed_origins: ['https://app.example'],
      },
    },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  port = Number(new URL(gateway.url).port);
});

afterAll(() => gateway.close());

/**
 * What the gateway's answerError writes for `err` thrown by a route handler:
 * every route's failure goes through it (the route table admits no test-only
 * routes, so it runs here behind a plain node:http server).
 */
async function answeredBy(err: unknown, logged: string[]): Promise<{ status: number; json: any }> {
  const log = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: object) => void logged.push(`${message} ${JSON.stringify(fields)}`) };
  const server = createServer((_req, res) => answerError(res, err, log));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return { status: res.status, json: await res.json() };
  } finally {
    server.close();
  }
}

/** A raw HTTP request, so Host can be set to anything (fetch forbids that). */
function raw(path: string, headers: Record<string, string>, body?: string, method = body ? 'POST' : 'GET') {
  return new Promise<{ status: number; json: any; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        const isJson = String(res.headers['content-type']).startsWith('application/json');
        resolve({ status: res.statusCode ?? 0, json: isJson && text ? JSON.parse(text) : null, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } },
});

describe('Host and Origin validation', () => {
  it('accepts the loopback host it is bound to', async () => {
    expect((await raw('/health', { host: `127.0.0.1:${port}` })).status).toBe(200);
    expect((await raw('/health', { host: `localhost:${port}` })).status).toBe(200);
  });

  it('rejects a foreign Host header (DNS rebinding)', async () => {
    const res = await raw('/mcp', { host: `evil.example:${port}` }, INIT);
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/Host header "evil.example:\d+" is not allowed/);
  });

  it('rejects a foreign Origin even with a good Host', async () => {
    const res = await raw('/mcp', { host: `127.0.0.1:${port}`, origin: 'https://evil.example' }, INIT);
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/Origin "https:\/\/evil.example" is not allowed/);
  });

  it('answers a refused Host as a JSON-RPC error: HTTP_REFUSED (-32000), id null', async () => {
    const res = await raw('/health', { host: `evil.example:${port}` });
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ jsonrpc: '2.0', error: { code: -32000, message: expect.stringMatching(/not allowed/) }, id: null });
  });

  it('accepts a configured Origin', async () => {
    const res = await raw('/mcp', { host: `127.0.0.1:${port}`, origin: 'https://app.example' }, INIT);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/"serverInfo":\{"name":"mcp-edge"/);
  });
});

describe('GET /metrics', () => {
  it('serves gateway and queue gauges in the Prometheus text format', async () => {
    const res = await raw('/metrics', { host: `127.0.0.1:${port}` });
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^mcp_edge_up 1$/m);
    expect(res.text).toMatch(/^mcp_edge_provider_up\{provider="local",kind="local"\} 1$/m);
    expect(res.text).toMatch(/^# TYPE mcp_edge_queue_depth gauge$/m);
    for (const line of res.text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+]+)$/);
  });
});

describe('GET /metrics: the process', () => {
  /** One sample's value in Prometheus text; fails the test when the metric is missing. */
  const valueOf = (text: string, name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    expect(line, name).toBeDefined();
    return Number(line!.slice(name.length + 1));
  };
  const cpuSeconds = () => {
    const cpu = process.cpuUsage();
    return (cpu.user + cpu.system) / 1e6;
  };

  it("reports this process's RSS, CPU, start time and heap in the units Prometheus expects", async () => {
    // The gateway runs in this process, so its readings bracket the test's own.
    const cpuBefore = cpuSeconds();
    const rssBefore = process.memoryUsage.rss();
    const res = await raw('/metrics', { host: `127.0.0.1:${port}` });
    const cpuAfter = cpuSeconds();
    const rssAfter = process.memoryUsage.rss();
    expect(res.text).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
    const rss = valueOf(res.text, 'process_resident_memory_bytes');
    expect(rss).toBeGreaterThan(Math.min(rssBefore, rssAfter) * 0.9);
    expect(rss).toBeLessThan(Math.max(rssBefore, rssAfter) * 1.1);
    const cpu = valueOf(res.text, 'process_cpu_seconds_total');
    expect(cpu).toBeGreaterThanOrEqual(cpuBefore);
    expect(cpu).toBeLessThanOrEqual(cpuAfter);
    expect(Math.abs(valueOf(res.text, 'process_start_time_seconds') - (Date.now() / 1000 - process.uptime()))).toBeLessThan(1);
    const used = valueOf(res.text, 'nodejs_heap_size_used_bytes');
    expect(used).toBeGreaterThan(1e6);
    expect(used).toBeLessThanOrEqual(valueOf(res.text, 'nodejs_heap_size_total_bytes'));
    expect(valueOf(res.text, 'nodejs_external_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('bad HTTP input', () => {
  it('answers malformed JSON with a JSON-RPC parse error', async () => {
    const res = await raw('/mcp', { host: `127.0.0.1:${port}` }, '{"jsonrpc": "2.0", "id": 1,');
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32700);
  });

  it('refuses a body above max_body_bytes', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(5000) } });
    const res = await raw('/mcp', { host: `127.0.0.1:${port}` }, big);
    expect(res.status).toBe(413);
    expect(res.json.error.message).toMatch(/exceeds 4096 bytes \(gateway.max_body_bytes\)/);
  });

  it('asks for initialize when a request has no session', async () => {
    const res = await raw('/mcp', { host: `127.0.0.1:${port}` }, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }));
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/initialize/);
  });

  it('answers an unknown session id with 404', async () => {
    const res = await raw('/mcp', { host: `127.0.0.1:${port}`, 'mcp-session-id': 'nope' }, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }));
    expect(res.status).toBe(404);
  });

  it('answers a REST handler that failed unexpectedly with a 500 that keeps its details in the log', async () => {
    const logged: string[] = [];
    const res = await answeredBy(new TypeError('secret internals'), logged);
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error in the gateway; see its log.' }, id: null });
    expect(logged.join('\n')).toMatch(/secret internals/);
  });

  it('answers a REST handler refused by the queue with its message and local code', async () => {
    const res = await answeredBy(new QueueError('closed', 'The offline queue is closed.'), []);
    expect(res.status).toBe(500);
    expect(res.json.error).toEqual({ code: -32603, message: 'The offline queue is closed.', data: { code: 'closed' } });
  });

  it('answers an unknown path with a hint', async () => {
    const res = await raw('/nope', { host: `127.0.0.1:${port}` });
    expect(res.status).toBe(404);
    expect(res.json.error).toMatch(/MCP is served at \/mcp/);
  });
});
