// A client's token never leaves the gateway. A recording proxy on 127.0.0.1
// sits between the gateway and a real server-everything over Streamable
// HTTP and keeps every header of every request the gateway makes; clients
// holding an API key and a JWT call through the gateway, and the proxy must
// see only the gateway's own upstream credential. A provider inside the
// gateway must not see the client's credentials either.
import { spawn } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import type { Provider, ProviderCallContext } from '../host/src/providers/provider.js';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { EVERYTHING, freePort, NODE, startGateway, textOf } from './helpers/gateway.js';
import { ISSUER, jwksServer, mint, RESOURCE, signingKey } from './helpers/auth.js';
import { waitForOutput } from './helpers/processes.js';

const children: ReturnType<typeof spawn>[] = [];
const proxies: Server[] = [];
const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(proxies.map((p) => new Promise((r) => (p.closeAllConnections(), p.close(r)))));
});

const UPSTREAM_CREDENTIAL = 'Bearer the-gateways-own-upstream-token';

async function everything(): Promise<number> {
  const port = await freePort();
  const child = spawn(NODE, [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForOutput(child.stderr, /(listening|running) on port/i, 15_000);
  return port;
}

/** A pass-through proxy to 127.0.0.1:target that keeps the headers of every request. */
async function recordingProxy(target: number): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const proxy = createServer((req, res) => {
    seen.push(req.headers);
    const out = request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${target}` } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  proxies.push(proxy);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp`, seen };
}

/** A provider that answers one tool and keeps what it was handed. */
function recordingProvider(): Provider & { contexts: ProviderCallContext[] } {
  const contexts: ProviderCallContext[] = [];
  const tool = { name: 'who_am_i', description: 'Records its call context.', inputSchema: { type: 'object' as const } };
  return {
    id: 'recorder',
    kind: 'local',
    contexts,
    health: () => ({ state: 'up', since: 0 }),
    catalog: () => ({ tools: [tool], resources: [], resourceTemplates: [], prompts: [] }),
    async callTool(_name, _args, context): Promise<CallToolResult> {
      contexts.push(context);
      return { content: [{ type: 'text', text: 'recorded' }] };
    },
    readResource: () => Promise.reject(new Error('no resources')),
    getPrompt: () => Promise.reject(new Error('no prompts')),
    onChange: () => () => undefined,
    start: async () => undefined,
    close: async () => undefined,
  };
}

async function connect(url: string, credential: string): Promise<Client> {
  const client = new Client({ name: 'credential-holder', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: credential } } }));
  clients.push(client);
  return client;
}

describe.each(['shared', 'per-client'] as const)('no token passthrough (upstream session_mode %s)', (sessionMode) => {
  it("sends upstreams the gateway's own credential, never a client's API key or JWT", { timeout: 60_000 }, async () => {
    const proxy = await recordingProxy(await everything());
    const signing = await signingKey('k1');
    const jwks = await jwksServer([signing]);
    const gateway = await startGateway({
      auth: { api_keys: true, resource: RESOURCE, jwt: { issuer: ISSUER, jwks_url: jwks.url } },
      upstreams: [{ id: 'ev', transport: 'http', url: proxy.url, headers: { authorization: UPSTREAM_CREDENTIAL }, session_mode: sessionMode }],
    });
    const recorder = recordingProvider();
    await gateway.addProvider(recorder);
    const { key } = new ApiKeyStore(gateway.db).create({ name: 'floor-agent', scopes: [] });
    const jwt = await mint(signing);
    const credentials = [`Bearer ${key}`, `Bearer ${jwt}`];
    for (const credential of credentials) {
      const client = await connect(gateway.url, credential);
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'via the gateway' } }))).toContain('via the gateway');
      await client.callTool({ name: 'who_am_i', arguments: {} });
    }
    // The upstream saw requests (initialize, the calls, the GET stream), each with the gateway's credential only.
    expect(proxy.seen.length).toBeGreaterThanOrEqual(sessionMode === 'per-client' ? 6 : 3);
    for (const headers of proxy.seen) {
      expect(headers.authorization).toBe(UPSTREAM_CREDENTIAL);
      const all = JSON.stringify(headers);
      expect(all).not.toContain(key);
      expect(all).not.toContain(jwt);
      expect(all).not.toContain(jwt.split('.')[2]);
    }
    // Inside the gateway, the request context handed to providers carries no credential either.
    expect(recorder.contexts).toHaveLength(2);
    for (const context of recorder.contexts) {
      const headers = context.client?.requestInfo?.headers ?? {};
      expect(headers.accept).toBeDefined();
      expect(headers.authorization).toBeUndefined();
      expect(JSON.stringify(context.client?.requestInfo)).not.toContain(key);
      expect(JSON.stringify(context.client?.requestInfo)).not.toContain(jwt);
    }
  });
});
