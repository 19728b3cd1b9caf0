// JWT access tokens over real HTTP on 127.0.0.1, signed with real keys and
// checked against a JWKS served by a real local HTTP server: every refusal
// the issue lists (missing, expired, not yet valid, wrong issuer, wrong
// audience, alg none, HS256 signed with the RSA public key, unknown kid),
// key rotation and its rate limit, the resource metadata, scopes, sessions.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { exportSPKI, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import { ConfigError } from '../host/src/config/load.js';
import { freePort, startGateway } from './helpers/gateway.js';
import { challengeOf, INITIALIZE, ISSUER, jwksServer, mint, openSession, postMcp, rawRequest, RESOURCE, signingKey, TOOLS_LIST, type SigningKey } from './helpers/auth.js';
import { tempDir } from './helpers/processes.js';

const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

type JwtInput = NonNullable<NonNullable<EdgeConfigInput['auth']>['jwt']>;

/** A gateway taking tokens of ISSUER for RESOURCE, with keys from `jwks` (a URL or file). */
async function jwtGateway(keys: { jwks_url: string } | { jwks_file: string }, jwt: Partial<JwtInput> = {}, auth: Record<string, unknown> = {}) {
  return startGateway({ auth: { resource: RESOURCE, jwt: { issuer: ISSUER, ...keys, ...jwt }, ...auth } });
}

async function setup(jwt: Partial<JwtInput> = {}, auth: Record<string, unknown> = {}) {
  const key = await signingKey('k1');
  const jwks = await jwksServer([key]);
  const gateway = await jwtGateway({ jwks_url: jwks.url }, jwt, auth);
  return { key, jwks, gateway };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function expectRefused(url: string, token: string, description: RegExp): Promise<void> {
  const answer = await postMcp(url, TOOLS_LIST, `Bearer ${token}`);
  expect(answer.status).toBe(401);
  const challenge = challengeOf(answer);
  expect(challenge.error).toBe('invalid_token');
  expect(challenge.error_description).toMatch(description);
}

describe('JWT access tokens: refusals', () => {
  it('answers no token with 401 pointing at the protected resource metadata, which names the issuer', async () => {
    const { gateway } = await setup({}, { required_scopes: ['mcp:tools'] });
    const answer = await postMcp(gateway.url, TOOLS_LIST);
    expect(answer.status).toBe(401);
    const metadataUrl = 'https://pi.test:8443/.well-known/oauth-protected-resource/mcp';
    expect(challengeOf(answer)).toEqual({ realm: 'mcp-edge', resource_metadata: metadataUrl });
    const origin = new URL(gateway.url).origin;
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const doc = await rawRequest(origin + path, { headers: { host: new URL(origin).host } });
      expect([path, doc.status, doc.json()]).toEqual([
        path,
        200,
        { resource: RESOURCE, authorization_servers: [ISSUER], bearer_methods_supported: ['header'], scopes_supported: ['mcp:tools'], resource_name: 'mcp-edge' },
      ]);
    }
  });

  it('refuses an expired token', async () => {
    const { key, gateway } = await setup();
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(gateway.url, await mint(key, { iat: now - 600, exp: now - 120 }), /expired/);
  });

  it('refuses a token that is not valid yet (nbf in the future)', async () => {
    const { key, gateway } = await setup();
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(gateway.url, await mint(key, { nbf: now + 600, exp: now + 900 }), /not valid yet/);
  });

  it('refuses a token of another issuer, even one signed with a key the gateway trusts', async () => {
    const { key, gateway } = await setup();
    await expectRefused(gateway.url, await mint(key, { iss: 'https://evil.test' }), /not issued by https:\/\/idp\.test\/realms\/shop/);
  });

  it('refuses a token for another resource (audience), naming the one to ask for', async () => {
    const { key, gateway } = await setup();
    await expectRefused(gateway.url, await mint(key, { aud: 'https://other-service.test/mcp' }), /for another resource; request one for https:\/\/pi\.test:8443\/mcp/);
    await expectRefused(gateway.url, await mint(key, { aud: undefined }), /has no audience \(aud\); request one for https:\/\/pi\.test:8443\/mcp/);
  });

  it('refuses a token without a subject', async () => {
    const { key, gateway } = await setup();
    await expectRefused(gateway.url, await mint(key, { sub: undefined }), /'sub' claim is missing/);
  });

  it('refuses alg none, with and without a signature', async () => {
    const { gateway } = await setup();
    const now = Math.floor(Date.now() / 1000);
    const claims = b64({ iss: ISSUER, aud: RESOURCE, sub: 'agent-7', exp: now + 300 });
    for (const header of [{ alg: 'none', typ: 'JWT' }, { alg: 'none', kid: 'k1' }, { alg: 'NONE', kid: 'k1' }]) {
      await expectRefused(gateway.url, `${b64(header)}.${claims}.`, /algorithm is not accepted/);
    }
  });

  it('refuses an HS256 token signed with the RSA public key as the HMAC secret (algorithm confusion)', async () => {
    const { key, gateway } = await setup();
    const pem = await exportSPKI(key.publicKey);
    const now = Math.floor(Date.now() / 1000);
    for (const secret of [pem, JSON.stringify(key.jwk), key.jwk.n!]) {
      const forged = await new SignJWT({ iss: ISSUER, aud: RESOURCE, sub: 'agent-7', exp: now + 300 }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode(secret));
      await expectRefused(gateway.url, forged, /algorithm is not accepted/);
    }
  });

  it('refuses an algorithm left out of auth.jwt.algorithms, though its key is published', async () => {
    const rsa = await signingKey('k1');
    const ec = await signingKey('e1', 'ES256');
    const jwks = await jwksServer([rsa, ec]);
    const gateway = await jwtGateway({ jwks_url: jwks.url }, { algorithms: ['RS256'] });
    await expectRefused(gateway.url, await mint(ec), /algorithm is not accepted here \(accepted: RS256\)/);
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${await mint(rsa)}`)).status).toBe(200);
  });

  it('refuses a token whose signature was tampered with, and one signed by a key the issuer never published', async () => {
    const { key, gateway } = await setup();
    const good = await mint(key);
    const [h] = good.split('.');
    const tampered = `${h}.${b64({ iss: ISSUER, aud: RESOURCE, sub: 'admin', exp: Math.floor(Date.now() / 1000) + 300, scope: 'mcp:tools' })}.${good.split('.')[2]}`;
    await expectRefused(gateway.url, tampered, /signature does not verify/);
    const stranger = await signingKey('k1');
    await expectRefused(gateway.url, await mint(stranger), /signature does not verify/);
  });

  it('refuses an unknown kid, fetching the JWKS again at most once per cooldown', async () => {
    const { jwks, gateway } = await setup({ jwks_cooldown_seconds: 300 });
    expect(jwks.fetches()).toBe(1);
    for (let i = 0; i < 5; i++) {
      await expectRefused(gateway.url, await mint(await signingKey(`made-up-${i}`)), /no signing key .* matches/);
    }
    // The start's fetch was less than the cooldown ago: the made-up kids cost the issuer nothing.
    expect(jwks.fetches()).toBe(1);
  });

  it('refuses a token lacking a required scope with 403 insufficient_scope; takes scope as a string or scp as an array', async () => {
    const { key, gateway } = await setup({}, { required_scopes: ['mcp:tools'] });
    const answer = await postMcp(gateway.url, TOOLS_LIST, `Bearer ${await mint(key, { scope: 'mcp:read' })}`);
    expect(answer.status).toBe(403);
    expect(challengeOf(answer)).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:tools', resource_metadata: expect.stringContaining('/.well-known/oauth-protected-resource/mcp') });
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${await mint(key, { scope: 'mcp:read mcp:tools' })}`)).status).toBe(200);
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${await mint(key, { scope: undefined, scp: ['mcp:tools'] })}`)).status).toBe(200);
  });
});

describe('JWT access tokens: keys and sessions', () => {
  it('follows a key rotation: the new kid is fetched; a new token of the retired key is refused, a verified one is kept until it expires', async () => {
    const { key, jwks, gateway } = await setup({ jwks_cooldown_seconds: 0 });
    const verifiedBefore = await mint(key);
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${verifiedBefore}`)).status).toBe(200);
    const next = await signingKey('k2');
    jwks.keys = [next];
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${await mint(next)}`)).status).toBe(200);
    expect(jwks.fetches()).toBe(2);
    await expectRefused(gateway.url, await mint(key, { jti: 'fresh' }), /no signing key .* matches/);
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${verifiedBefore}`)).status).toBe(200);
  });

  it('reads keys from a JWKS file, and reads it again when a token names a key it lacks', async () => {
    const first = await signingKey('f1', 'ES256');
    const file = join(tempDir(), 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [first.jwk] }));
    const gateway = await jwtGateway({ jwks_file: file }, { jwks_cooldown_seconds: 0 });
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${await mint(first)}`)).status).toBe(200);
    const second = await signingKey('f2', 'ES256');
    writeFileSync(file, JSON.stringify({ keys: [first.jwk, second.jwk] }));
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${await mint(second)}`)).status).toBe(200);
  });

  it('refuses to start with a JWKS file that is missing or not a key set', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.json'), '{"keys": "no"}');
    for (const file of [join(dir, 'missing.json'), join(dir, 'bad.json')]) {
      const start = jwtGateway({ jwks_file: file });
      await expect(start).rejects.toThrow(ConfigError);
      await expect(start).rejects.toThrow(/auth\.jwt\.jwks_file .* cannot be used/);
    }
  });

  it('starts while the issuer is unreachable, answers 503 with Retry-After, and accepts tokens once the keys can be fetched', async () => {
    const port = await freePort();
    const gateway = await jwtGateway({ jwks_url: `http://127.0.0.1:${port}/jwks` }, { jwks_cooldown_seconds: 0 });
    const key = await signingKey('k1');
    const token = await mint(key);
    const refused = await postMcp(gateway.url, TOOLS_LIST, `Bearer ${token}`);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.json().error.message).toMatch(/signing keys at http:\/\/127\.0\.0\.1:\d+\/jwks cannot be loaded/);
    await jwksServer([key], port);
    expect((await postMcp(gateway.url, INITIALIZE, `Bearer ${token}`)).status).toBe(200);
  });

  it("binds a session to the token's subject: another subject gets 404, a refreshed token of the same subject gets in", async () => {
    const { key, gateway } = await setup();
    const session = await openSession(gateway.url, `Bearer ${await mint(key)}`);
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    expect((await postMcp(gateway.url, TOOLS_LIST, `Bearer ${await mint(key, { sub: 'agent-8' })}`, headers)).status).toBe(404);
    expect((await postMcp(gateway.url, TOOLS_LIST, `Bearer ${await mint(key, { jti: 'refreshed' })}`, headers)).status).toBe(200);
  });

  it("ends a session's GET stream when its token expires, and a fresh token reaches the session again", async () => {
    const { key, gateway } = await setup({ clock_tolerance_seconds: 0 });
    const shortLived = await mint(key, { exp: Math.floor(Date.now() / 1000) + 2 });
    const session = await openSession(gateway.url, `Bearer ${shortLived}`);
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const stream = await fetch(gateway.url, { headers: { authorization: `Bearer ${shortLived}`, accept: 'text/event-stream', ...headers } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    while (!(await reader.read()).done);
    expect((await postMcp(gateway.url, TOOLS_LIST, `Bearer ${shortLived}`, headers)).status).toBe(401);
    expect((await postMcp(gateway.url, TOOLS_LIST, `Bearer ${await mint(key)}`, headers)).status).toBe(200);
  });

  it('serves an SDK client that sends its token in the Authorization header', async () => {
    const { key, gateway } = await setup();
    const client = new Client({ name: 'oauth-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${await mint(key)}` } } }));
    clients.push(client);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('edge_compress');
  });
});

describe('a non-loopback bind with authentication', () => {
  it('refuses a request with a forged loopback Host header and no token, and serves one with a token', async () => {
    const key: SigningKey = await signingKey('k1');
    const jwks = await jwksServer([key]);
    const gateway = await startGateway({ gateway: { bind_address: '0.0.0.0:0' }, auth: { resource: RESOURCE, jwt: { issuer: ISSUER, jwks_url: jwks.url } } });
    const port = new URL(gateway.url).port;
    const url = `http://127.0.0.1:${port}/mcp`;
    const forged = await postMcp(url, TOOLS_LIST, undefined, { host: `127.0.0.1:${port}` });
    expect(forged.status).toBe(401);
    const sync = await rawRequest(`http://127.0.0.1:${port}/v1/queue/sync`, { method: 'POST', headers: { host: `127.0.0.1:${port}` } });
    expect(sync.status).toBe(401);
    expect((await postMcp(url, INITIALIZE, `Bearer ${await mint(key)}`)).status).toBe(200);
  });
});
