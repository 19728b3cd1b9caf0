// The session caps per principal and per remote address (gateway/session-limits.ts)
// over real HTTP. Principals come from authentication, which is not this
// test's subject: a plain node:http server in front of the gateway's /mcp
// endpoint hands each request the principal the test names, as the gateway's
// authenticator would (API keys and remote addresses a loopback test cannot
// produce otherwise).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpHttpEndpoint } from '../host/src/gateway/http.js';
import { answerError } from '../host/src/gateway/respond.js';
import { countedAs, isLoopback } from '../host/src/gateway/session-limits.js';
import { loopbackPrincipal, type Principal } from '../host/src/security/principal.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { startGateway } from './helpers/gateway.js';
import { INITIALIZE, rawRequest } from './helpers/raw-http.js';

const apiKey = (name: string, address: string): Principal => ({ id: `key:${name}`, kind: 'api-key', name, scopes: new Set(), address });
const PRINCIPALS: Record<string, Principal> = {
  alice: apiKey('alice', '192.0.2.10'),
  bob: apiKey('bob', '192.0.2.10'),
  carol: apiKey('carol', '198.51.100.7'),
  local: loopbackPrincipal('127.0.0.1'),
};

let endpoint: McpHttpEndpoint;
let server: Server;
let port: number;

beforeAll(async () => {
  const gateway = await startGateway();
  // The endpoint here is the test's own: the gateway's MCP side is loaded as its first /mcp request would.
  await gateway.loadMcp();
  const log = createLogger('silent');
  endpoint = new McpHttpEndpoint({
    maxBodyBytes: 1 << 20,
    limits: { maxSessions: 100, perPrincipal: 3, perAddress: 4, unusedMs: 30_000, idleMs: 0 },
    streams: gateway.settings.http.streams,
    newMcpServer: (principal) => gateway.newMcpServer(principal),
    log,
  });
  server = createServer((req, res) => {
    const principal = PRINCIPALS[String(req.headers['x-test-principal'])]!;
    endpoint.handle(req, res, principal).catch((err: unknown) => answerError(res, err, log));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await endpoint.closeAll();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const initialize = (who: string) => rawRequest(port, 'POST', '/mcp', { 'x-test-principal': who }, JSON.stringify(INITIALIZE));

describe('session caps', () => {
  it('refuses a principal past max_sessions_per_principal with 429 and Retry-After, and lets it in again once it ends one', async () => {
    const opened = [];
    for (let i = 0; i < 3; i++) opened.push(await initialize('alice'));
    expect(opened.map((a) => a.status)).toEqual([200, 200, 200]);
    const refused = await initialize('alice');
    expect(refused.status).toBe(429);
    expect(refused.json.error).toEqual({
      code: -32000,
      message: 'Too many sessions: this principal already holds 3 (gateway.max_sessions_per_principal). Reuse one, or end one you no longer need with DELETE /mcp.',
    });
    // Its sessions sent no request: the first is due to close 30 s after it opened.
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(30);
    const ended = await rawRequest(port, 'DELETE', '/mcp', { 'x-test-principal': 'alice', 'mcp-session-id': String(opened[0]!.headers['mcp-session-id']) });
    expect(ended.status).toBe(200);
    expect((await initialize('alice')).status).toBe(200);
  });

  it('refuses an address past max_sessions_per_address, whoever the principal, and counts other addresses apart', async () => {
    // alice holds 3 sessions from 192.0.2.10; bob shares the address.
    expect((await initialize('bob')).status).toBe(200);
    const refused = await initialize('bob');
    expect(refused.status).toBe(429);
    expect(refused.json.error.message).toBe('Too many sessions: address 192.0.2.10 already holds 4 (gateway.max_sessions_per_address). Reuse one, or end one you no longer need with DELETE /mcp.');
    expect((await initialize('carol')).status).toBe(200);
  });

  it('counts neither the loopback principal of an open gateway nor loopback addresses: they stand for every local client', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push((await initialize('local')).status);
    expect(answers).toEqual([200, 200, 200, 200, 200, 200]);
    expect(countedAs(PRINCIPALS.local!, '127.0.0.1')).toEqual({ quotaPrincipal: undefined, address: undefined });
    expect(countedAs(apiKey('dave', '::ffff:203.0.113.5'), undefined)).toEqual({ quotaPrincipal: 'key:dave', address: '203.0.113.5' });
    expect(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', 'fe80::1'].some(isLoopback)).toBe(false);
  });
});
