// The HTTPS listener (security.tls_cert / tls_key), tried as a client that
// should not get in would: old protocols, weak ciphers, plain HTTP on the TLS
// port, a silent connection, renegotiation; and what an operator sees: the
// url, /health and /metrics saying https, and wrong files refused at start
// with the key that names them.
import { writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../host/src/config/load.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { startGateway } from './helpers/gateway.js';
import { LOCAL_SERVER, TestPki, type Issued, type TestCa } from './helpers/pki.js';
import { collect, spawnCli, tempDir, waitForExit } from './helpers/processes.js';
import { connectTlsClient, httpsRequest, refusal, tlsOptions } from './helpers/tls.js';

let pki: TestPki;
let ca: TestCa;
let server: Issued;
let gateway: Gateway;

const healthUrl = (g: Gateway): string => g.url.replace(/\/mcp$/, '/health');
const port = (g: Gateway): number => Number(new URL(g.url).port);

beforeAll(async () => {
  pki = new TestPki();
  ca = pki.ca('listener-ca');
  server = ca.issue({ cn: 'gateway.test', ...LOCAL_SERVER });
  gateway = await startGateway({ security: { tls_cert: server.cert, tls_key: server.key, tls_handshake_timeout_ms: 300 } });
});

/** A plain HTTPS server (Node's defaults but for `options`), for control experiments. */
async function controlServer(options: Parameters<typeof createHttpsServer>[0]): Promise<{ url: string; server: Server }> {
  const s = createHttpsServer({ cert: readFileSync(server.cert), key: readFileSync(server.key), ...options }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  controls.push(s);
  return { url: `https://127.0.0.1:${(s.address() as AddressInfo).port}/`, server: s };
}
const controls: Server[] = [];
afterAll(() => {
  for (const s of controls) s.close();
});

describe('the HTTPS listener refuses', () => {
  it('TLS 1.1, which the same client can speak to a server that allows it', async () => {
    const tls11 = tlsOptions({ ca: ca.cert }, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    const control = await controlServer({ minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect((await httpsRequest(control.url, tls11)).socket.getProtocol()).toBe('TLSv1.1');
    const err = await refusal(httpsRequest(healthUrl(gateway), tls11));
    expect(`${err.code} ${err.message}`).toMatch(/protocol version|unsupported protocol/i);
  });

  it('a TLS 1.2 client offering only CBC ciphers, which Node accepts by default', async () => {
    const cbcOnly = tlsOptions({ ca: ca.cert }, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' });
    const control = await controlServer({});
    expect((await httpsRequest(control.url, cbcOnly)).socket.getCipher().name).toBe('ECDHE-ECDSA-AES128-SHA256');
    const err = await refusal(httpsRequest(healthUrl(gateway), cbcOnly));
    expect(`${err.code} ${err.message}`).toMatch(/handshake failure|no shared cipher/i);
  });

  it('plain HTTP on its port: no answer is served, and the failed handshake is counted', async () => {
    const before = JSON.parse((await httpsRequest(healthUrl(gateway), tlsOptions({ ca: ca.cert }))).body).tls.handshake_failures as number;
    const outcome = await new Promise<string>((resolve) => {
      const req = httpGet(healthUrl(gateway).replace('https:', 'http:'), (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(outcome).not.toMatch(/^HTTP/);
    const after = JSON.parse((await httpsRequest(healthUrl(gateway), tlsOptions({ ca: ca.cert }))).body).tls.handshake_failures as number;
    expect(after).toBe(before + 1);
  });

  it('a connection that never starts its handshake: closed after tls_handshake_timeout_ms, not Node default 120 s', async () => {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const socket = netConnect(port(gateway), '127.0.0.1');
      const bound = setTimeout(() => {
        socket.destroy();
        reject(new Error('the silent connection was still open after 10 s'));
      }, 10_000);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(bound);
        resolve();
      });
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('renegotiation, which a Node server allows by default', async () => {
    const renegotiate = (target: number) =>
      new Promise<string>((resolve) => {
        const socket = tlsConnect({ port: target, host: '127.0.0.1', ...tlsOptions({ ca: ca.cert }, { maxVersion: 'TLSv1.2' }) }, () => {
          socket.renegotiate({}, (err) => resolve(err ? `refused: ${err.message}` : 'renegotiated'));
        });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code ?? err.message}`));
        socket.on('close', () => resolve('refused: closed'));
      });
    const control = await controlServer({});
    expect(await renegotiate(Number(new URL(control.url).port))).toBe('renegotiated');
    expect(await renegotiate(port(gateway))).toMatch(/^refused/);
  });
});

describe('the HTTPS listener serves', () => {
  it('TLS 1.3 to a client that has it, and AEAD with forward secrecy to a TLS 1.2 one', async () => {
    const modern = await httpsRequest(healthUrl(gateway), tlsOptions({ ca: ca.cert }));
    expect(modern.socket.getProtocol()).toBe('TLSv1.3');
    const tls12 = await httpsRequest(healthUrl(gateway), tlsOptions({ ca: ca.cert }, { maxVersion: 'TLSv1.2' }));
    expect(tls12.socket.getProtocol()).toBe('TLSv1.2');
    expect(tls12.socket.getCipher().name).toMatch(/^ECDHE-ECDSA-(AES\d+-GCM|CHACHA20-POLY1305)/);
  });

  it('says https: its url, /health (the certificate served) and /metrics', async () => {
    expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const answer = await httpsRequest(healthUrl(gateway), tlsOptions({ ca: ca.cert }));
    const health = JSON.parse(answer.body);
    expect(health.status).toBe('ok');
    const served = answer.socket.getPeerX509Certificate()!;
    expect(health.tls.certificate).toEqual({ subject: 'CN=gateway.test, O=mcp-edge tests', fingerprint_sha256: served.fingerprint256.replaceAll(':', '').toLowerCase(), not_after: new Date(served.validTo).toISOString() });
    expect(health.tls.client_certificates).toBe('off');
    const metrics = (await httpsRequest(healthUrl(gateway).replace('/health', '/metrics'), tlsOptions({ ca: ca.cert }))).body;
    expect(metrics).toContain(`mcp_edge_tls_certificate_expiry_timestamp_seconds ${Math.floor(Date.parse(served.validTo) / 1000)}`);
    expect(metrics).toMatch(/mcp_edge_tls_handshake_failures_total \d+/);
  });

  it('MCP to an SDK client that trusts its CA', async () => {
    const { client } = await connectTlsClient(gateway.url, { ca: ca.cert });
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('edge_compress');
  });

  it('only TLS 1.3 when tls_min_version is "1.3"', async () => {
    const strict = await startGateway({ security: { tls_cert: server.cert, tls_key: server.key, tls_min_version: '1.3' } });
    const err = await refusal(httpsRequest(healthUrl(strict), tlsOptions({ ca: ca.cert }, { maxVersion: 'TLSv1.2' })));
    expect(`${err.code} ${err.message}`).toMatch(/protocol version|unsupported protocol/i);
    expect((await httpsRequest(healthUrl(strict), tlsOptions({ ca: ca.cert }))).socket.getProtocol()).toBe('TLSv1.3');
  });

  it('an expired certificate, which clients refuse, and /health says degraded and why', async () => {
    const expired = ca.issue({ cn: 'expired.test', ...LOCAL_SERVER, notBefore: '20200101000000Z', notAfter: '20200201000000Z' }, 'expired-server');
    const stale = await startGateway({ security: { tls_cert: expired.cert, tls_key: expired.key } });
    const err = await refusal(httpsRequest(healthUrl(stale), tlsOptions({ ca: ca.cert })));
    expect(err.code).toBe('CERT_HAS_EXPIRED');
    const health = stale.health();
    expect(health.status).toBe('degraded');
    expect(health.reasons.join('\n')).toMatch(/TLS: the certificate expired at .*2020.*; renew security.tls_cert/);
  });
});

describe('TLS configuration that cannot work is refused', () => {
  it('by the schema: a certificate without its key, listener keys without a certificate, client auth without a CA', () => {
    const problems = (security: object) => {
      try {
        validateConfig({ security });
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(problems({ tls_cert: '/c.pem' })).toMatch(/security.tls_key: tls_cert and tls_key go together/);
    expect(problems({ tls_client_ca: '/ca.pem' })).toMatch(/security.tls_client_ca: tls_client_ca applies to the HTTPS listener: set tls_cert and tls_key too/);
    expect(problems({ tls_min_version: '1.3' })).toMatch(/security.tls_min_version: .*set tls_cert and tls_key/);
    expect(problems({ tls_cert: '/c.pem', tls_key: '/k.pem', tls_client_auth: 'optional' })).toMatch(/security.tls_client_auth: tls_client_auth needs tls_client_ca/);
    expect(problems({ tls_cert: '/c.pem', tls_key: '/k.pem', tls_client_crl: '/crl.pem' })).toMatch(/security.tls_client_crl: tls_client_crl needs tls_client_ca/);
    expect(problems({ tls_cert: '/c.pem', tls_key: '/k.pem', tls_min_version: '1.1' })).toMatch(/security.tls_min_version/);
    expect(problems({ tls_cert: '/c.pem', tls_key: '/k.pem', tls_client_ca: '/ca.pem' })).toBe('');
  });

  it('at start, naming the key and the file: missing, not PEM, a key of another certificate, an encrypted key', async () => {
    const dir = tempDir();
    const garbage = `${dir}/garbage.pem`;
    writeFileSync(garbage, 'not a certificate\n');
    const other = ca.issue({ cn: 'other.test', ...LOCAL_SERVER }, 'other-server');
    const encrypted = `${dir}/encrypted.key`;
    execFileSync('openssl', ['pkey', '-in', server.key, '-out', encrypted, '-aes256', '-passout', 'pass:secret']);
    const startError = (security: object) => startGateway({ security }).then(() => '', (err: Error) => `${err.name}: ${err.message}`);
    expect(await startError({ tls_cert: `${dir}/missing.crt`, tls_key: server.key })).toMatch(new RegExp(`ConfigError: .*security.tls_cert: ${dir}/missing.crt does not exist`, 's'));
    // Both missing: both named, each on its line (only the key was, and the certificate after it was put back).
    expect(await startError({ tls_cert: `${dir}/missing.crt`, tls_key: `${dir}/missing.key` })).toBe(
      `ConfigError: gateway config is invalid:\n  - security.tls_cert: ${dir}/missing.crt does not exist; point it at a PEM file.\n  - security.tls_key: ${dir}/missing.key does not exist; point it at a PEM file.`,
    );
    expect(await startError({ tls_cert: garbage, tls_key: server.key })).toMatch(/security.tls_cert: .*garbage.pem holds no PEM certificate/);
    expect(await startError({ tls_cert: server.cert, tls_key: other.key })).toMatch(/security.tls_key: the private key in .*other-server.key does not belong to the certificate in .*gateway.test.crt/);
    expect(await startError({ tls_cert: server.cert, tls_key: encrypted })).toMatch(/security.tls_key: the private key in .*encrypted.key is encrypted/);
    expect(await startError({ tls_cert: server.cert, tls_key: server.key, tls_client_ca: garbage })).toMatch(/security.tls_client_ca: .*holds no PEM certificate/);
  });

  it('by mcp-edge serve: exit code 2 and the message, not a stack', async () => {
    const dir = tempDir();
    const config = `${dir}/mcp-edge.toml`;
    writeFileSync(config, `[gateway]\nbind_address = "127.0.0.1:0"\ndata_dir = "${dir}/data"\n[security]\ntls_cert = "${dir}/nope.crt"\ntls_key = "${server.key}"\n`);
    const child = spawnCli(['serve', '--config', config]);
    const stderr = collect(child.stderr);
    expect(await waitForExit(child)).toBe(2);
    expect(stderr.text()).toMatch(/^mcp-edge: gateway config is invalid:\n {2}- security.tls_cert: .*nope.crt does not exist; point it at a PEM file.\n$/);
  });
});

