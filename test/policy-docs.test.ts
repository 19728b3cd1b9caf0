// docs/security.md's Authorization and Rate limits examples, served as written
// (only the port and the data dir point at this machine), with keys from the
// gateway's own store: what the page says each rule does, it does.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import { POLICY_DENIED } from '../host/src/protocol/jsonrpc.js';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { startGateway } from './helpers/gateway.js';
import { openSession, postMcp, rawRequest } from './helpers/auth.js';
import { docPage } from './helpers/docs.js';

const { example: docExample } = docPage('docs/security.md');
const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

const example = (name: string): string => docExample(name, 'toml');

describe('docs/security.md: authorization and rate limits', () => {
  it('does what the page says of its examples', async () => {
    const config = parseConfig(example('authorization-config') + '\n' + example('rate-limits-config'), 'docs/security.md', {});
    const gateway = await startGateway(config);
    const store = new ApiKeyStore(gateway.db);
    const agent = store.create({ name: 'line-3-agent', scopes: [] }).key;
    const ops = store.create({ name: 'ops', scopes: ['ops'] }).key;
    const client = new Client({ name: 'line-3-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${agent}` } } }));
    clients.push(client);

    // Agents: the gateway's tools, not the queue's.
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['count_tokens', 'edge_compress']));
    expect(names).not.toContain('queue_sync');
    expect(names).not.toContain('queue_status');
    const denied = await client.callTool({ name: 'queue_status', arguments: {} }).catch((e: unknown) => e);
    expect((denied as McpError).code).toBe(POLICY_DENIED);
    expect((await client.listResources()).resources.map((r) => r.uri)).toContain('mcp-edge://providers');

    // Operators: the metrics and the queue's sync; agents neither.
    const get = (path: string, key: string, method = 'GET') => rawRequest(new URL(path, gateway.url).href, { method, headers: { authorization: `Bearer ${key}` } });
    expect((await get('/metrics', agent)).status).toBe(403);
    expect((await get('/v1/queue/sync', agent, 'POST')).status).toBe(403);
    expect((await get('/v1/queue/sync', ops, 'POST')).status).toBe(200);
    expect((await get('/v1/queue/status', ops)).status).toBe(200);

    // The agent's count_tokens bucket holds 2.
    const auth = `Bearer ${agent}`;
    const sid = await openSession(gateway.url, auth);
    const count = (id: number) => postMcp(gateway.url, JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'count_tokens', arguments: { text: 'abc' } } }), auth, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
    const statuses = [(await count(1)).status, (await count(2)).status];
    const third = await count(3);
    // The SDK client above did not call count_tokens: two go, the third waits.
    expect([...statuses, third.status]).toEqual([200, 200, 429]);
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const metrics = (await get('/metrics', ops)).body;
    expect(metrics).toContain('mcp_edge_rate_limited_total{principal="key:line-3-agent",tool="count_tokens"} 1');
    expect(metrics).toContain('mcp_edge_authorization_denied_total{principal="key:line-3-agent",kind="route"} 2');
  });
});
