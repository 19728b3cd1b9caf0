// Real credentials for the authentication tests: key pairs made with jose, a
// JWKS served by a real HTTP server on 127.0.0.1 (counting its fetches), JWTs
// signed as an authorization server would, and raw HTTP requests whose every
// header the test chooses.
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll } from 'vitest';

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public key as the issuer publishes it. */
  jwk: JWK;
}

export async function signingKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

export const ISSUER = 'https://idp.test/realms/shop';
export const RESOURCE = 'https://pi.test:8443/mcp';

/** A JWT as the issuer would mint it for the gateway: valid for 5 minutes unless `claims` say otherwise. */
export async function mint(key: SigningKey, claims: JWTPayload = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: RESOURCE, sub: 'agent-7', iat: now, exp: now + 300, scope: 'mcp:tools', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .sign(key.privateKey);
}

/** A JWKS endpoint on 127.0.0.1: serves `keys` as they are at each fetch, and counts the fetches. */
export async function jwksServer(keys: SigningKey[], port = 0): Promise<{ url: string; keys: SigningKey[]; fetches: () => number; close: () => Promise<void> }> {
  let fetches = 0;
  const state = { keys };
  const server = createServer((_req, res) => {
    fetches += 1;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    get keys() {
      return state.keys;
    },
    set keys(next: SigningKey[]) {
      state.keys = next;
    },
    fetches: () => fetches,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: () => any;
}

/** One HTTP request with exactly these headers (a forged Host included), on a fresh connection. */
export function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawAnswer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** An initialize request body: answered 200 once the caller is authenticated. */
export const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'auth-test', version: '1.0.0' } } });
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** POSTs an MCP message to `url` with `authorization` (none when undefined). */
export function postMcp(url: string, body: string, authorization?: string, extra: Record<string, string> = {}): Promise<RawAnswer> {
  return rawRequest(url, { method: 'POST', headers: { ...MCP_HEADERS, host: new URL(url).host, ...(authorization ? { authorization } : {}), ...extra }, body });
}

/** Opens an MCP session as the holder of `authorization`; returns its id. */
export async function openSession(url: string, authorization: string): Promise<string> {
  const answer = await postMcp(url, INITIALIZE, authorization);
  if (answer.status !== 200) throw new Error(`initialize answered ${answer.status}: ${answer.body}`);
  const id = answer.headers['mcp-session-id'];
  if (typeof id !== 'string') throw new Error('initialize answered without Mcp-Session-Id');
  await postMcp(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), authorization, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' });
  return id;
}

/** A tools/list request body. */
export const TOOLS_LIST = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });

/** The parameters of a WWW-Authenticate Bearer challenge, by name. */
export function challengeOf(answer: RawAnswer): Record<string, string> {
  const header = String(answer.headers['www-authenticate'] ?? '');
  if (!header.startsWith('Bearer ')) throw new Error(`not a Bearer challenge: "${header}"`);
  return Object.fromEntries([...header.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}
