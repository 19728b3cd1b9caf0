// Client certificates (mTLS): security.tls_client_ca, required or optional.
// Negative cases first: no certificate, one from an unknown CA, an expired
// one, a server certificate offered as a client's; then what a verified one
// is (the principal cert:<sha256>, its session its own), and what dropping
// a CA from the bundle does to clients already connected.
import { createHash, X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpRefusal } from '../host/src/protocol/http-refusal.js';
import { clientCertificateAuthenticator } from '../host/src/security/client-cert.js';
import { loopbackPrincipal, type Principal } from '../host/src/security/principal.js';
import { createGateway, type Gateway } from '../host/src/gateway/gateway.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { eventually, startGateway } from './helpers/gateway.js';
import { LOCAL_SERVER, TestPki, type Issued, type TestCa } from './helpers/pki.js';
import { connectTlsClient, httpsRequest, INITIALIZE, MCP_POST_HEADERS, refusal, tlsFetch, tlsOptions } from './helpers/tls.js';

let pki: TestPki;
let serverCa: TestCa;
let clientCa: TestCa;
let strangerCa: TestCa;
let server: Issued;
let alice: Issued;
let bob: Issued;
let required: Gateway;

const healthOf = (g: Gateway): string => g.url.replace(/\/mcp$/, '/health');
/** Only the fields of the SHA-256 fingerprint of a certificate file, computed here from its DER bytes. */
const sha256Of = (certFile: string): string => createHash('sha256').update(new X509Certificate(readFileSync(certFile)).raw).digest('hex');

beforeAll(async () => {
  pki = new TestPki();
  serverCa = pki.ca('server-ca');
  clientCa = pki.ca('client-ca');
  strangerCa = pki.ca('stranger-ca');
  server = serverCa.issue({ cn: 'gateway.test', ...LOCAL_SERVER });
  alice = clientCa.issue({ cn: 'alice', usage: 'client' });
  bob = clientCa.issue({ cn: 'bob', usage: 'client' });
  required = await createGateway({
    config: { gateway: { bind_address: '127.0.0.1:0', data_dir: pki.path('required-data') }, security: { tls_cert: server.cert, tls_key: server.key, tls_client_ca: clientCa.cert } },
    logger: createLogger('debug', (line) => requiredLog.push(line)),
  });
});
afterAll(() => required.close());

/** The log of the gateway that requires client certificates: it says why each handshake failed. */
const requiredLog: string[] = [];

describe('client certificates required (the default with tls_client_ca)', () => {
  const as = (client?: Issued) => tlsOptions({ ca: serverCa.cert, ...(client ? { client } : {}) });
  /**
   * Why a handshake with `client` is refused, as the gateway logs it: Node
   * checks the certificate once the handshake is done and drops the
   * connection without an alert, so the client only sees it reset.
   */
  const refusedReason = async (client?: Issued): Promise<string> => {
    requiredLog.length = 0;
    const err = await refusal(httpsRequest(healthOf(required), as(client)));
    expect(err.code).toMatch(/ECONNRESET|EPROTO/);
    return eventually(() => requiredLog.find((line) => line.includes('TLS client refused')), 5_000, 'the refusal to be logged');
  };

  it('refuses a connection without a client certificate, which the same client gets with one', async () => {
    expect((await httpsRequest(healthOf(required), as(alice))).status).toBe(200);
    expect(await refusedReason()).toMatch(/"reason":"no client certificate"/);
  });

  it('refuses a certificate from an unknown CA, even one with the same subject as a client it knows', async () => {
    const impostor = strangerCa.issue({ cn: 'alice', usage: 'client' }, 'impostor-alice');
    expect(await refusedReason(impostor)).toMatch(/"reason":"UNABLE_TO_VERIFY_LEAF_SIGNATURE","subject":"CN=alice, O=mcp-edge tests"/);
  });

  it('refuses an expired client certificate of its own CA', async () => {
    const expired = clientCa.issue({ cn: 'carol', usage: 'client', notBefore: '20200101000000Z', notAfter: '20200201000000Z' }, 'expired-carol');
    expect(await refusedReason(expired)).toMatch(/"reason":"CERT_HAS_EXPIRED","subject":"CN=carol, O=mcp-edge tests"/);
  });

  it('refuses a server certificate of its own CA offered as a client certificate', async () => {
    const serverOnly = clientCa.issue({ cn: 'not-a-client', usage: 'server' }, 'server-only');
    expect(await refusedReason(serverOnly)).toMatch(/"reason":"INVALID_PURPOSE","subject":"CN=not-a-client, O=mcp-edge tests"/);
  });

  it('counts refused handshakes in /health and /metrics', async () => {
    const tls = JSON.parse((await httpsRequest(healthOf(required), as(alice))).body).tls;
    expect(tls.client_certificates).toBe('required');
    // The four refusals above, each counted once.
    expect(tls.handshake_failures).toBe(4);
    const metrics = (await httpsRequest(healthOf(required).replace('/health', '/metrics'), as(alice))).body;
    expect(metrics).toContain('mcp_edge_tls_handshake_failures_total 4');
  });

  it('serves MCP to a client with a verified certificate', async () => {
    const { client } = await connectTlsClient(required.url, { ca: serverCa.cert, client: alice });
    const result = await client.callTool({ name: 'edge_compress', arguments: { text: 'hello', algorithm: 'zstd' } });
    expect(result.isError).toBeFalsy();
  });

  it("binds a session to its certificate: another verified client naming it gets 404, as for an unknown id", async () => {
    const opened = await httpsRequest(required.url, as(alice), { method: 'POST', headers: MCP_POST_HEADERS, body: INITIALIZE });
    expect(opened.status).toBe(200);
    const session = opened.headers['mcp-session-id'] as string;
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const byBob = await httpsRequest(required.url, as(bob), { method: 'POST', headers, body: list });
    expect(byBob.status).toBe(404);
    const byAlice = await httpsRequest(required.url, as(alice), { method: 'POST', headers, body: list });
    expect(byAlice.status).toBe(200);
    expect(JSON.parse(byAlice.body).result.tools.length).toBeGreaterThan(0);
  });
});

describe('client certificates optional', () => {
  let optional: Gateway;
  beforeAll(async () => {
    optional = await startGateway({ security: { tls_cert: server.cert, tls_key: server.key, tls_client_ca: clientCa.cert, tls_client_auth: 'optional' } });
  });
  const initialize = (client?: Issued) => httpsRequest(optional.url, tlsOptions({ ca: serverCa.cert, ...(client ? { client } : {}) }), { method: 'POST', headers: MCP_POST_HEADERS, body: INITIALIZE });

  it('refuses a presented certificate it cannot verify with 403 and why, rather than treating the client as anonymous', async () => {
    const impostor = strangerCa.issue({ cn: 'mallory', usage: 'client' }, 'mallory');
    const answer = await initialize(impostor);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error.message).toMatch(/^Forbidden: the client certificate "CN=mallory, O=mcp-edge tests" was not accepted \(.+\)\. Present one issued by the CA in the gateway's security.tls_client_ca, or none\.$/);
  });

  it('passes a client without a certificate on to the other authentication (here: the loopback default)', async () => {
    expect((await initialize()).status).toBe(200);
  });

  it('serves a client with a verified certificate', async () => {
    expect((await initialize(alice)).status).toBe(200);
  });
});

describe('the principal of a client certificate', () => {
  let https: Server;
  let url: string;
  const seen: (Principal | string)[] = [];
  const next = { authenticate: (req: IncomingMessage) => loopbackPrincipal(req.socket.remoteAddress) };

  beforeAll(async () => {
    const authenticator = clientCertificateAuthenticator(next, { required: false });
    https = createServer({ cert: readFileSync(server.cert), key: readFileSync(server.key), ca: readFileSync(clientCa.cert), requestCert: true, rejectUnauthorized: false }, async (req, res) => {
      try {
        seen.push(await authenticator.authenticate(req));
      } catch (err) {
        seen.push(err instanceof HttpRefusal ? `refused ${err.status}` : String(err));
      }
      res.end();
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', () => r()));
    url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/`;
  });
  afterAll(() => https.close());

  it('is cert:<sha256 of the certificate>, named after its subject, expiring with it', async () => {
    await httpsRequest(url, tlsOptions({ ca: serverCa.cert, client: alice }));
    const principal = seen.pop() as Principal;
    const certificate = new X509Certificate(readFileSync(alice.cert));
    expect(principal).toEqual({ id: `cert:${sha256Of(alice.cert)}`, kind: 'client-cert', name: 'CN=alice, O=mcp-edge tests', scopes: new Set(), expiresAt: Date.parse(certificate.validTo), address: '127.0.0.1' });
  });

  it('differs between two certificates of the same subject (a renewed certificate is a new principal)', async () => {
    const renewed = clientCa.issue({ cn: 'alice', usage: 'client' }, 'alice-renewed');
    await httpsRequest(url, tlsOptions({ ca: serverCa.cert, client: alice }));
    await httpsRequest(url, tlsOptions({ ca: serverCa.cert, client: renewed }));
    const [first, second] = seen.splice(-2) as Principal[];
    expect(first!.name).toBe(second!.name);
    expect(first!.id).not.toBe(second!.id);
  });

  it('is not made without a certificate (the next authenticator answers) nor from an unverified one', async () => {
    await httpsRequest(url, tlsOptions({ ca: serverCa.cert }));
    expect((seen.pop() as Principal).id).toBe('local:loopback');
    await httpsRequest(url, tlsOptions({ ca: serverCa.cert, client: strangerCa.issue({ cn: 'eve', usage: 'client' }, 'eve') }));
    expect(seen.pop()).toBe('refused 403');
  });
});

describe('a revocation list (tls_client_crl)', () => {
  it('refuses a revoked client certificate, from the reload of the list on, and keeps serving the others', async () => {
    const revokable = clientCa.issue({ cn: 'dave', usage: 'client' });
    const crl = clientCa.crl(pki.path('client-ca.crl.pem'));
    const log: string[] = [];
    const g = await createGateway({
      config: { gateway: { bind_address: '127.0.0.1:0', data_dir: pki.path('crl-data') }, security: { tls_cert: server.cert, tls_key: server.key, tls_client_ca: clientCa.cert, tls_client_crl: crl } },
      logger: createLogger('info', (line) => log.push(line)),
    });
    try {
      const health = healthOf(g);
      expect((await httpsRequest(health, tlsOptions({ ca: serverCa.cert, client: revokable }))).status).toBe(200);
      clientCa.revoke(revokable);
      clientCa.crl(`${crl}.next`);
      renameSync(`${crl}.next`, crl);
      await eventually(() => (g.health().tls?.reloads === 1 ? true : undefined), 10_000, 'the revocation list to be reloaded');
      await refusal(httpsRequest(health, tlsOptions({ ca: serverCa.cert, client: revokable })));
      expect(await eventually(() => log.find((line) => line.includes('TLS client refused')), 5_000, 'the refusal to be logged')).toMatch(/"reason":"CERT_REVOKED","subject":"CN=dave, O=mcp-edge tests"/);
      expect((await httpsRequest(health, tlsOptions({ ca: serverCa.cert, client: alice }))).status).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('is refused at start when it is not a revocation list', async () => {
    const err = await startGateway({ security: { tls_cert: server.cert, tls_key: server.key, tls_client_ca: clientCa.cert, tls_client_crl: clientCa.cert } }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/security.tls_client_crl: .*client-ca.ca.crt holds no PEM revocation list/);
  });
});

describe('dropping a CA from tls_client_ca', () => {
  it('refuses its clients from the reload on: new connections, idle kept-alive ones, and resumed TLS sessions', async () => {
    const bundle = pki.path('reloadable-client-ca.pem');
    copyFileSync(clientCa.cert, bundle);
    const g = await startGateway({ security: { tls_cert: server.cert, tls_key: server.key, tls_client_ca: bundle } });
    const health = g.url.replace(/\/mcp$/, '/health');
    // A kept-alive connection, and a TLS session to resume, both from before the reload.
    const keptAlive = tlsFetch({ ca: serverCa.cert, client: alice });
    expect((await keptAlive(health)).status).toBe(200);
    const session = await tlsSession(g, alice);
    const resumed = await resume(g, alice, session);
    expect(resumed).toEqual({ reused: true, status: 200 });

    writeFileSync(bundle, readFileSync(strangerCa.cert));
    await eventually(() => (g.health().tls?.reloads === 1 ? true : undefined), 10_000, 'the CA bundle to be reloaded');

    await expect(keptAlive(health)).rejects.toThrow();
    expect(await resume(g, alice, session)).toMatchObject({ reused: false });
    expect((await resume(g, alice, session)).status).not.toBe(200);
  });
});

/** A TLS session of a connection made with `client` (to resume later). */
function tlsSession(g: Gateway, client: Issued): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(g.url).port), ...tlsOptions({ ca: serverCa.cert, client }) });
    socket.once('session', (session: Buffer) => {
      resolve(session);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** One authenticated request (GET /metrics) on a connection that offers `session` for resumption: whether it was reused, and the status (0: the connection failed). */
function resume(g: Gateway, client: Issued, session: Buffer): Promise<{ reused: boolean; status: number }> {
  return new Promise((resolve) => {
    let reused = false;
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(g.url).port), session, ...tlsOptions({ ca: serverCa.cert, client }) }, () => {
      reused = socket.isSessionReused();
      socket.write(`GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${new URL(g.url).port}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ reused, status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0) }));
  });
}

describe('a reachable bind address with client certificates', () => {
  const at = (mode: 'required' | 'optional') => ({
    gateway: { bind_address: '0.0.0.0:0', data_dir: pki.path(`exposed-${mode}`) },
    security: { tls_cert: server.cert, tls_key: server.key, tls_client_ca: clientCa.cert, tls_client_auth: mode },
  });

  it('is served when every connection must present one (they authenticate callers)', async () => {
    const g = await createGateway({ config: at('required'), logger: createLogger('error') });
    try {
      const health = `https://127.0.0.1:${new URL(g.url).port}/health`;
      expect((await httpsRequest(health, tlsOptions({ ca: serverCa.cert, client: alice }))).status).toBe(200);
      await refusal(httpsRequest(health, tlsOptions({ ca: serverCa.cert })));
    } finally {
      await g.close();
    }
  });

  it('is refused when they are optional and nothing else authenticates', async () => {
    await expect(createGateway({ config: at('optional'), logger: createLogger('error') })).rejects.toThrow(/can be reached from other machines, and no authentication is configured/);
  });
});
