// A renewed certificate is served without a restart: when its files change
// (renewal tools replace them by rename), and on SIGHUP. A renewal that is
// broken (the new certificate with the old key) keeps the working
// certificate in service and says why in /health, until it is fixed.
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { eventually, startGateway } from './helpers/gateway.js';
import { LOCAL_SERVER, TestPki, type Issued, type TestCa } from './helpers/pki.js';
import { startServeCli, tempDir, waitForOutput } from './helpers/processes.js';
import { connectTlsClient, httpsRequest, tlsOptions } from './helpers/tls.js';

let pki: TestPki;
let ca: TestCa;

beforeAll(() => {
  pki = new TestPki();
  ca = pki.ca('reload-ca');
});

/** Replaces `target` with `source` the way renewal tools do: a new file renamed over the old one. */
function replaceFile(source: string, target: string): void {
  copyFileSync(source, `${target}.new`);
  renameSync(`${target}.new`, target);
}

/** The SHA-256 fingerprint of the certificate a fresh connection to the gateway at `url` is served. */
async function servedFingerprint(url: string): Promise<string> {
  const answer = await httpsRequest(url.replace(/\/mcp$/, '/health'), tlsOptions({ ca: ca.cert }));
  return answer.socket.getPeerX509Certificate()!.fingerprint256;
}

const fingerprintOf = (issued: Issued): string => new X509Certificate(readFileSync(issued.cert)).fingerprint256;

describe('when the certificate files change', () => {
  let gateway: Gateway;
  let live: Issued;
  let first: Issued;
  let second: Issued;

  beforeAll(async () => {
    first = ca.issue({ cn: 'first.test', ...LOCAL_SERVER });
    second = ca.issue({ cn: 'second.test', ...LOCAL_SERVER });
    const dir = tempDir();
    live = { cert: `${dir}/server.crt`, key: `${dir}/server.key` };
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    gateway = await startGateway({ security: { tls_cert: live.cert, tls_key: live.key } });
  });

  it('serves the new certificate to new connections, and open MCP sessions carry on', async () => {
    expect(await servedFingerprint(gateway.url)).toBe(fingerprintOf(first));
    const { client } = await connectTlsClient(gateway.url, { ca: ca.cert });
    replaceFile(second.key, live.key);
    replaceFile(second.cert, live.cert);
    await eventually(() => (gateway.health().tls?.certificate.subject.includes('second.test') ? true : undefined), 10_000, 'the renewed certificate to be loaded');
    expect(await servedFingerprint(gateway.url)).toBe(fingerprintOf(second));
    expect(gateway.health().tls).toMatchObject({ reloads: 1, reload_failures: 0, last_reload_error: null });
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('keeps serving the working certificate when the renewal is broken, says why, and recovers when it is fixed', async () => {
    const third = ca.issue({ cn: 'third.test', ...LOCAL_SERVER });
    replaceFile(third.cert, live.cert); // the key is still the second certificate's
    await eventually(() => (gateway.health().tls?.last_reload_error ? true : undefined), 10_000, 'the broken renewal to be reported');
    const health = gateway.health();
    expect(health.status).toBe('degraded');
    expect(health.reasons.join('\n')).toMatch(/TLS: the last reload failed, the previous certificate is still served: security.tls_key: the private key in .*server.key does not belong to the certificate in .*server.crt/);
    expect(await servedFingerprint(gateway.url)).toBe(fingerprintOf(second));

    replaceFile(third.key, live.key);
    await eventually(() => (gateway.health().tls?.certificate.subject.includes('third.test') ? true : undefined), 10_000, 'the fixed renewal to be loaded');
    expect(gateway.health()).toMatchObject({ status: 'ok', tls: { last_reload_error: null, reload_failures: 1 } });
    expect(await servedFingerprint(gateway.url)).toBe(fingerprintOf(third));
  });

  it('reloadTls() reports each set of files: unchanged when nothing changed', async () => {
    expect(await gateway.reloadTls()).toEqual({ listener: { outcome: 'unchanged' } });
  });
});

describe('mcp-edge serve', () => {
  it('re-reads its TLS files on SIGHUP, and logs what it did', async () => {
    const server = ca.issue({ cn: 'cli.test', ...LOCAL_SERVER });
    const dir = tempDir();
    const config = `${dir}/mcp-edge.toml`;
    writeFileSync(config, `[security]\ntls_cert = "${server.cert}"\ntls_key = "${server.key}"\n`);
    const { child, url } = await startServeCli(['--config', config]);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const reread = waitForOutput(child.stderr, /SIGHUP: TLS files re-read (\{.*\})/);
    child.kill('SIGHUP');
    expect(JSON.parse((await reread)[1]!)).toEqual({ listener: 'unchanged' });
    // Still serving, the same certificate.
    expect(await servedFingerprint(url)).toBe(fingerprintOf(server));
    expect(child.exitCode).toBeNull();
  });
});
