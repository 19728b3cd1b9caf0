// API keys over real HTTP on 127.0.0.1: every refusal first (no credentials,
// malformed header, wrong scheme, unknown, tampered, expired, revoked, lacking
// a scope), then what a key opens, with keys made by the real `mcp-edge keys`
// CLI against the running gateway's database.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, CHANGE_CHECK_MS } from '../host/src/security/api-keys.js';
import { openDatabaseFile } from '../host/src/storage/database.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { eventually, startGateway } from './helpers/gateway.js';
import { challengeOf, INITIALIZE, openSession, postMcp, rawRequest, TOOLS_LIST } from './helpers/auth.js';
import { collect, spawnCli, tempDir, waitForExit } from './helpers/processes.js';

const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

async function keyGateway(auth: Record<string, unknown> = {}): Promise<{ gateway: Gateway; keys: ApiKeyStore }> {
  const gateway = await startGateway({ auth: { api_keys: true, ...auth } });
  return { gateway, keys: new ApiKeyStore(gateway.db) };
}

/** Runs `mcp-edge keys ...` against the gateway's data dir; resolves with its exit code and output. */
async function keysCli(gateway: Gateway, args: string[]): Promise<{ code: number | NodeJS.Signals; out: string; err: string }> {
  const child = spawnCli(['keys', ...args, '--data-dir', gateway.dataDir]);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const code = await waitForExit(child);
  return { code, out: out.text(), err: err.text() };
}

/** Reads a response body to its end (the server ending it). */
async function drain(response: Response): Promise<void> {
  const reader = response.body!.getReader();
  while (!(await reader.read()).done);
}

async function sdkClient(url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'key-holder', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  clients.push(client);
  return client;
}

describe('API keys: refusals', () => {
  it('answers a request without credentials 401 with a Bearer challenge and a message saying what to send', async () => {
    const { gateway } = await keyGateway();
    const answer = await postMcp(gateway.url, TOOLS_LIST);
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="mcp-edge"');
    expect(answer.json().error.message).toMatch(/Authorization: Bearer/);
  });

  it('refuses a malformed Authorization header with 400 invalid_request', async () => {
    const { gateway, keys } = await keyGateway();
    const { key } = keys.create({ name: 'm', scopes: [] });
    for (const header of ['Bearer', `Bearer ${key} extra`, 'Bearer k"ey', `Bearer  ${key}\u00e9`]) {
      const answer = await postMcp(gateway.url, TOOLS_LIST, header);
      expect([header, answer.status, challengeOf(answer).error]).toEqual([header, 400, 'invalid_request']);
    }
  });

  it('refuses another scheme (Basic) with 401 and no error code, naming the scheme it takes', async () => {
    const { gateway } = await keyGateway();
    const answer = await postMcp(gateway.url, TOOLS_LIST, `Basic ${Buffer.from('admin:admin').toString('base64')}`);
    expect(answer.status).toBe(401);
    expect(challengeOf(answer).error).toBeUndefined();
    expect(answer.json().error.message).toMatch(/uses the Basic scheme; this gateway takes Bearer/);
  });

  it('refuses an unknown key, a key with one character of its secret changed, and a truncated key', async () => {
    const { gateway, keys } = await keyGateway();
    const { key } = keys.create({ name: 'real', scopes: [] });
    const last = key.at(-1) === 'A' ? 'B' : 'A';
    const forged = [key.slice(0, -1) + last, 'mcpe_0123456789ab_' + 'x'.repeat(43), key.slice(0, -2)];
    for (const candidate of forged) {
      const answer = await postMcp(gateway.url, TOOLS_LIST, `Bearer ${candidate}`);
      expect(answer.status).toBe(401);
      expect(challengeOf(answer).error).toBe('invalid_token');
    }
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${key}`)).status).toBe(200);
  });

  it('refuses an expired key, saying when it expired', async () => {
    const { gateway, keys } = await keyGateway();
    const created = Date.now() - 3_600_000;
    const { key } = keys.create({ name: 'short-lived', scopes: [], expiresAt: created + 60_000 }, created);
    const answer = await postMcp(gateway.url, TOOLS_LIST, `Bearer ${key}`);
    expect(answer.status).toBe(401);
    expect(challengeOf(answer).error_description).toMatch(/'short-lived' expired on \d{4}-/);
    expect(answer.json().error.message).toMatch(/"short-lived" expired on \d{4}-/);
  });

  it('refuses a key revoked with the CLI from the next request on, on its open session too, and closes that session', async () => {
    const { gateway } = await keyGateway();
    const created = await keysCli(gateway, ['create', 'line-3', '--scope', 'tools']);
    expect(created.code).toBe(0);
    const key = created.out.trim();
    expect(key).toMatch(/^mcpe_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const session = await openSession(gateway.url, `Bearer ${key}`);
    // A GET stream on the session: it must not outlive the key.
    const stream = await fetch(gateway.url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } });
    expect(stream.status).toBe(200);
    const streamEnded = drain(stream);
    expect((await postMcp(gateway.url, TOOLS_LIST, `Bearer ${key}`, { 'mcp-session-id': session })).status).toBe(200);

    const revoked = await keysCli(gateway, ['revoke', 'line-3']);
    expect([revoked.code, revoked.err]).toEqual([0, expect.stringMatching(/Revoked API key "line-3"/)]);
    const refused = await postMcp(gateway.url, TOOLS_LIST, `Bearer ${key}`, { 'mcp-session-id': session });
    expect(refused.status).toBe(401);
    expect(challengeOf(refused).error_description).toMatch(/'line-3' has been revoked/);
    await streamEnded;
    await eventually(() => (gateway.health().sessions === 0 ? true : undefined), 5_000, 'the revoked key\'s session to close');
  });

  it('refuses a key that lacks a required scope with 403 insufficient_scope naming the scope', async () => {
    const { gateway, keys } = await keyGateway({ required_scopes: ['mcp:tools'] });
    const { key: without } = keys.create({ name: 'reader', scopes: ['mcp:read'] });
    const { key: holder } = keys.create({ name: 'caller', scopes: ['mcp:tools'] });
    const answer = await postMcp(gateway.url, TOOLS_LIST, `Bearer ${without}`);
    expect(answer.status).toBe(403);
    expect(challengeOf(answer)).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:tools' });
    await sdkClient(gateway.url, holder);
  });

  it("answers another principal's session id exactly like an unknown one (404)", async () => {
    const { gateway, keys } = await keyGateway();
    const { key: mine } = keys.create({ name: 'alice', scopes: [] });
    const { key: theirs } = keys.create({ name: 'mallory', scopes: [] });
    const session = await openSession(gateway.url, `Bearer ${mine}`);
    const foreign = await postMcp(gateway.url, TOOLS_LIST, `Bearer ${theirs}`, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
    const unknown = await postMcp(gateway.url, TOOLS_LIST, `Bearer ${theirs}`, { 'mcp-session-id': crypto.randomUUID(), 'mcp-protocol-version': '2025-11-25' });
    expect([foreign.status, foreign.json()]).toEqual([unknown.status, unknown.json()]);
    expect(foreign.status).toBe(404);
    expect((await postMcp(gateway.url, TOOLS_LIST, `Bearer ${mine}`, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' })).status).toBe(200);
  });

  it('guards every REST route, and tells strangers only the status on /health', async () => {
    const { gateway, keys } = await keyGateway();
    const { key } = keys.create({ name: 'ops', scopes: [] });
    const base = new URL(gateway.url).origin;
    const host = new URL(gateway.url).host;
    for (const [method, path] of [['GET', '/metrics'], ['GET', '/v1/queue/status'], ['POST', '/v1/queue/sync'], ['GET', '/v1/queue/metrics'], ['GET', '/v1/idempotency/status'], ['GET', '/v1/power']] as const) {
      const refused = await rawRequest(base + path, { method, headers: { host } });
      const served = await rawRequest(base + path, { method, headers: { host, authorization: `Bearer ${key}` } });
      expect([method, path, refused.status, served.status]).toEqual([method, path, 401, 200]);
    }
    const brief = await rawRequest(`${base}/health`, { headers: { host } });
    expect([brief.status, brief.json()]).toEqual([200, { status: 'ok' }]);
    const forged = await rawRequest(`${base}/health`, { headers: { host, authorization: 'Bearer mcpe_0123456789ab_' + 'y'.repeat(43) } });
    expect(forged.json()).toEqual({ status: 'ok' });
    const full = await rawRequest(`${base}/health`, { headers: { host, authorization: `Bearer ${key}` } });
    expect(full.json()).toMatchObject({ status: 'ok', version: '0.1.0', providers: expect.any(Array) });
  });

  it('serves /metrics without credentials with auth.public_metrics, and counts outcomes there', async () => {
    const { gateway } = await keyGateway({ public_metrics: true });
    const base = new URL(gateway.url).origin;
    await postMcp(gateway.url, TOOLS_LIST);
    await postMcp(gateway.url, TOOLS_LIST, 'Bearer mcpe_0123456789ab_' + 'z'.repeat(43));
    const metrics = await rawRequest(`${base}/metrics`, { headers: { host: new URL(base).host } });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('mcp_edge_auth_total{outcome="missing"} 1');
    expect(metrics.body).toContain('mcp_edge_auth_total{outcome="invalid"} 1');
  });
});

describe('API keys: what a key opens', () => {
  it('lets an SDK client holding a key list and call tools', async () => {
    const { gateway } = await keyGateway();
    const { out, code } = await keysCli(gateway, ['create', 'agent']);
    expect(code).toBe(0);
    const client = await sdkClient(gateway.url, out.trim());
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('count_tokens');
    expect((await client.callTool({ name: 'count_tokens', arguments: { text: 'hello world' } })).structuredContent).toMatchObject({ tokens: 2 });
  });

  it('stores no key in plain text: the database file holds neither the key nor its secret', async () => {
    const { gateway, keys } = await keyGateway();
    const { key } = keys.create({ name: 'secretive', scopes: [] });
    gateway.db.pragma('wal_checkpoint(TRUNCATE)');
    const file = readFileSync(join(gateway.dataDir, 'mcp-edge.db'));
    expect(file.includes(Buffer.from('secretive'))).toBe(true);
    expect(file.includes(Buffer.from(key.slice(-43)))).toBe(false);
    expect(file.includes(Buffer.from(key.slice(-20)))).toBe(false);
  });

  it('lists keys with their status and refuses a name used before, even by a revoked key', async () => {
    const { gateway } = await keyGateway();
    await keysCli(gateway, ['create', 'old', '--expires', '30d', '--scope', 'a', '--scope', 'b']);
    await keysCli(gateway, ['revoke', 'old']);
    await keysCli(gateway, ['create', 'new']);
    const again = await keysCli(gateway, ['create', 'old']);
    expect([again.code, again.err]).toEqual([1, expect.stringMatching(/a key named "old" exists/)]);
    const listed = JSON.parse((await keysCli(gateway, ['list', '--json'])).out) as { name: string; status: string; scopes: string[]; expires: string | null }[];
    expect(listed.map((k) => [k.name, k.status, k.scopes])).toEqual([
      ['old', 'revoked', ['a', 'b']],
      ['new', 'active', []],
    ]);
    expect(Date.parse(listed[0]!.expires!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const table = (await keysCli(gateway, ['list'])).out;
    expect(table.split('\n')[0]).toMatch(/^NAME\s+STATUS\s+SCOPES\s+CREATED\s+EXPIRES$/);
  });

  it('refuses bad CLI input with exit code 2 and what to do', async () => {
    const { gateway } = await keyGateway();
    const cases: [string[], RegExp][] = [
      [['create', 'has space'], /not a usable key name/],
      [['create', 'x', '--expires', 'soon'], /neither a duration .* nor a date/],
      [['create', 'y', '--expires', '2001-01-01'], /in the past/],
      [['rotate', 'x'], /unknown keys action "rotate"/],
      [[], /say what to do with keys/],
    ];
    for (const [args, message] of cases) {
      const run = await keysCli(gateway, args);
      expect([args, run.code === 0, run.err]).toEqual([args, false, expect.stringMatching(message)]);
    }
    expect((await keysCli(gateway, ['create', 'has space'])).code).toBe(2);
    expect((await keysCli(gateway, ['revoke', 'nobody'])).err).toMatch(/no key is named "nobody"/);
  });
});

describe('ApiKeyStore over two connections to one database file (the gateway and the CLI)', () => {
  function twoStores() {
    const file = join(tempDir(), 'keys.db');
    const gatewayDb = openDatabaseFile(file);
    const cliDb = openDatabaseFile(file);
    afterAll(() => {
      gatewayDb.close();
      cliDb.close();
    });
    return { gateway: new ApiKeyStore(gatewayDb), cli: new ApiKeyStore(cliDb) };
  }

  it("sees another connection's revocation once CHANGE_CHECK_MS have passed since it last looked for changes, not before", () => {
    const { gateway, cli } = twoStores();
    const { key } = cli.create({ name: 'k', scopes: ['s'] });
    const t0 = Date.now() + 10;
    expect(gateway.verify(key, t0)).toMatchObject({ ok: true, key: { name: 'k', scopes: ['s'] } });
    cli.revoke('k', t0);
    // Within the window the database is not asked again: the cost of a revocation check stays one pragma per window.
    expect(gateway.verify(key, t0 + CHANGE_CHECK_MS - 1)).toMatchObject({ ok: true });
    expect(gateway.verify(key, t0 + CHANGE_CHECK_MS)).toMatchObject({ ok: false, problem: 'revoked' });
  });

  it('finds a key created after the store first read, and refuses a changed secret once the real one was seen', () => {
    const { gateway, cli } = twoStores();
    const { key } = cli.create({ name: 'later', scopes: [] });
    const other = cli.create({ name: 'other', scopes: [] }).key;
    expect(gateway.verify(key).ok).toBe(true);
    const swapped = key.slice(0, 18) + other.slice(18);
    expect(gateway.verify(swapped)).toEqual({ ok: false, problem: 'unknown' });
    expect(gateway.verify(key).ok).toBe(true);
    const next = cli.create({ name: 'newest', scopes: [] }).key;
    expect(gateway.verify(next).ok).toBe(true);
  });
});
