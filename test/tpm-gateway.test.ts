// The gateway with security.use_tpm against Debian's swtpm: /health, the
// attestation routes behind the REST authentication, a verifier registering
// the node over them, a TPM that goes away, and `mcp-edge tpm identity`.
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import type { AttestationEvidence } from '../host/src/security/tpm/attestor.js';
import type { TpmIdentity } from '../host/src/security/tpm/identity.js';
import { AttestationRefused, Verifier } from '../host/src/security/tpm/verifier.js';
import { rawRequest, type RawAnswer } from './helpers/auth.js';
import { eventually, startGateway } from './helpers/gateway.js';
import { collect, spawnCli, tempDir, waitForExit } from './helpers/processes.js';
import { startSwtpm, type SoftwareTpm } from './helpers/swtpm.js';

const base = (gateway: Gateway): string => gateway.url.replace(/\/mcp$/, '');

function call(gateway: Gateway, method: string, path: string, key: string | undefined, body?: unknown): Promise<RawAnswer> {
  const headers: Record<string, string> = { host: new URL(gateway.url).host, 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  return rawRequest(`${base(gateway)}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

async function keyFor(gateway: Gateway): Promise<string> {
  return new ApiKeyStore(gateway.db).create({ name: 'verifier', scopes: [] }, Date.now()).key;
}

/** A verifier that talks to the node only over its REST routes. */
async function registerOverRest(verifier: Verifier, gateway: Gateway, key: string) {
  const identity = (await call(gateway, 'GET', '/v1/attestation/identity', key)).json() as TpmIdentity;
  return verifier.register(identity, async (blob, secret) => {
    const answer = await call(gateway, 'POST', '/v1/attestation/activate', key, { blob: blob.toString('base64'), secret: secret.toString('base64') });
    if (answer.status !== 200) throw new Error(answer.json().error.message);
    return Buffer.from(answer.json().credential, 'base64');
  });
}

describe('a gateway without a TPM', () => {
  it('says so in /health and serves no attestation route', async () => {
    const gateway = await startGateway();
    const health = (await call(gateway, 'GET', '/health', undefined)).json();
    expect(health.tpm).toEqual({ enabled: false });
    expect((await call(gateway, 'POST', '/v1/attestation/quote', undefined, { nonce: 'aa'.repeat(16) })).status).toBe(404);
  });
});

describe('a gateway with security.use_tpm', () => {
  let swtpm: SoftwareTpm;
  let gateway: Gateway;
  let key: string;
  const config = (extra: Record<string, unknown> = {}) => ({ auth: { api_keys: true }, security: { use_tpm: true, tpm_device: swtpm.tcti, tpm_pcrs: [0, 7] }, ...extra });

  beforeAll(async () => {
    swtpm = await startSwtpm();
    gateway = await startGateway(config());
    key = await keyFor(gateway);
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await swtpm?.stop();
  });

  it('reports the TPM, its AK and its measurement in /health', async () => {
    const health = (await call(gateway, 'GET', '/health', key)).json();
    expect(health.status).toBe('ok');
    expect(health.tpm).toMatchObject({ enabled: true, device: swtpm.tcti, pcrs: [0, 7, 23], measurement_pcr: 23 });
    expect(health.tpm.ak_name).toMatch(/^000b[0-9a-f]{64}$/);
    expect(health.tpm.code_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(gateway.servedRoutes()).toEqual(expect.arrayContaining(['POST /v1/attestation/quote', 'GET /v1/attestation/identity', 'POST /v1/attestation/activate']));
  });

  it('answers the attestation routes only to authenticated callers, and refuses a bad nonce', async () => {
    expect((await call(gateway, 'POST', '/v1/attestation/quote', undefined, { nonce: 'aa'.repeat(16) })).status).toBe(401);
    expect((await call(gateway, 'GET', '/v1/attestation/identity', undefined)).status).toBe(401);
    const short = await call(gateway, 'POST', '/v1/attestation/quote', key, { nonce: 'aa' });
    expect(short.status).toBe(400);
    expect(short.json().error.message).toMatch(/"nonce" must be 16 to 64 bytes in hex/);
    const garbage = await call(gateway, 'POST', '/v1/attestation/activate', key, { blob: 'AAAA', secret: 'AAAA' });
    expect(garbage.status).toBe(400);
    expect(garbage.json().error.message).toMatch(/cannot activate the credential/);
  });

  it('is registered and verified by a verifier over REST; a changed config then fails its reference policy', async () => {
    const health = (await call(gateway, 'GET', '/health', key)).json();
    const policy = { code: [health.tpm.code_digest], config: [health.tpm.config_digest] };
    const verifier = new Verifier({ pcrs: [0, 7], policy });
    const ak = await registerOverRest(verifier, gateway, key);
    const nonce = verifier.issueNonce();
    const answer = await call(gateway, 'POST', '/v1/attestation/quote', key, { nonce: nonce.toString('hex') });
    expect(answer.status).toBe(200);
    expect(verifier.verify(ak, nonce, answer.json() as AttestationEvidence).extraData).toEqual(nonce);

    // The same node restarted with another config: same TPM, same AK, another measurement.
    await gateway.close();
    gateway = await startGateway(config({ gateway: { request_timeout_ms: 12_345 } }));
    key = await keyFor(gateway);
    const changed = (await call(gateway, 'GET', '/health', key)).json();
    expect(changed.tpm.ak_name).toBe(health.tpm.ak_name);
    expect(changed.tpm.code_digest).toBe(health.tpm.code_digest);
    expect(changed.tpm.config_digest).not.toBe(health.tpm.config_digest);
    const nonce2 = verifier.issueNonce();
    const evidence = (await call(gateway, 'POST', '/v1/attestation/quote', key, { nonce: nonce2.toString('hex') })).json() as AttestationEvidence;
    const refused = (() => {
      try {
        verifier.verify(ak, nonce2, evidence);
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(AttestationRefused);
    expect((refused as AttestationRefused).reason).toBe('policy_mismatch');
    expect(await gateway.tpm!.openHandles()).toBe(0);
  });

  it('serves the quote as the MCP tool tpm_quote too', async () => {
    const client = new Client({ name: 'tpm-verifier', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    const verifier = new Verifier({ pcrs: [0, 7], policy: {} });
    const ak = await registerOverRest(verifier, gateway, key);
    const nonce = verifier.issueNonce();
    const result = await client.callTool({ name: 'tpm_quote', arguments: { nonce: nonce.toString('hex') } });
    expect(result.isError).toBeFalsy();
    expect(verifier.verify(ak, nonce, result.structuredContent as unknown as AttestationEvidence).extraData).toEqual(nonce);
    const bad = await client.callTool({ name: 'tpm_quote', arguments: { nonce: 'zz' } });
    expect(bad.isError).toBe(true);
    await client.close();
  });

  it('prints the same identity from the command line', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/mcp-edge.toml`, `[security]\ntpm_device = "${swtpm.tcti}"\n`);
    const child = spawnCli(['tpm', 'identity', '--config', `${dir}/mcp-edge.toml`]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    expect(await waitForExit(child), stderr.text()).toBe(0);
    const identity = JSON.parse(stdout.text()) as TpmIdentity;
    const tpm = gateway.health().tpm;
    expect(tpm.enabled && tpm.ak_name).toBe(identity.akName);
    expect(identity.ekCertificate).toContain('BEGIN CERTIFICATE');
  });

  it('answers 503 with the TSS words when the TPM goes away, says so in /health, and keeps serving', async () => {
    await swtpm.stop();
    const answer = await call(gateway, 'POST', '/v1/attestation/quote', key, { nonce: 'ab'.repeat(16) });
    expect(answer.status).toBe(503);
    expect(answer.json().error.message).toMatch(/The TPM did not answer: .*unreachable \(tcti:/);
    const health = (await call(gateway, 'GET', '/health', key)).json();
    expect(health.status).toBe('degraded');
    expect(health.reasons).toEqual([expect.stringMatching(/^TPM \(swtpm:host=127\.0\.0\.1,port=\d+\): .*unreachable/)]);
    expect(health.tpm.last_error).toMatch(/unreachable/);
    await swtpm.restart();
    const again = await call(gateway, 'POST', '/v1/attestation/quote', key, { nonce: 'ab'.repeat(16) });
    expect(again.status, again.body).toBe(200);
    expect((await call(gateway, 'GET', '/health', key)).json().status).toBe('ok');
  });

  it('does not start when the TPM cannot be reached, and says which', async () => {
    const err = await startGateway({ security: { use_tpm: true, tpm_device: 'swtpm:host=127.0.0.1,port=1' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/swtpm:host=127\.0\.0\.1,port=1/);
    expect((err as { code: string }).code).toBe('tpm_unreachable');
  });

  it('does not start, and says why within its deadline, when a software TPM accepts and never answers', async () => {
    // The TCTI's init waits for the answer on the main thread with no limit: this froze the gateway for good.
    const silent = await silentPortPair();
    const dir = tempDir();
    writeFileSync(join(dir, 'mcp-edge.toml'), `[security]\nuse_tpm = true\ntpm_device = "swtpm:host=127.0.0.1,port=${silent.port}"\n`);
    const started = Date.now();
    const child = spawnCli(['serve', '--bind', '127.0.0.1:0', '--data-dir', dir, '--config', join(dir, 'mcp-edge.toml')]);
    const stderr = collect(child.stderr);
    try {
      expect(await waitForExit(child, 30_000), stderr.text()).not.toBe(0);
      expect(stderr.text()).toMatch(/swtpm:host=127\.0\.0\.1,port=\d+ did not answer on its control port \(127\.0\.0\.1:\d+\) within 10000 ms/);
      expect(Date.now() - started).toBeLessThan(25_000);
    } finally {
      child.kill('SIGKILL');
      silent.close();
    }
  }, 40_000);
});

describe('a gateway whose TPM stops answering mid-command', () => {
  it('fails the command at security.tpm_command_timeout_ms, refuses at once while the TPM stays silent, and uses it again once it answers', async () => {
    // A TPM command had no deadline: one the TPM never answered held its caller, and every TPM operation after it, for good.
    const swtpm = await startSwtpm();
    const gateway = await startGateway({ auth: { api_keys: true }, security: { use_tpm: true, tpm_device: swtpm.tcti, tpm_pcrs: [0], tpm_command_timeout_ms: 2000 } });
    try {
      const key = await keyFor(gateway);
      const quote = () => call(gateway, 'POST', '/v1/attestation/quote', key, { nonce: 'cd'.repeat(16) });
      expect((await quote()).status).toBe(200);

      swtpm.pause();
      let started = performance.now();
      const timedOut = await quote();
      expect(timedOut.status).toBe(503);
      expect(timedOut.json().error.message).toMatch(/The TPM did not answer: Esys_\w+: the TPM did not answer within 2000 ms \(security\.tpm_command_timeout_ms\)/);
      expect(performance.now() - started).toBeLessThan(10_000);
      // Not opened again while its command is unanswered (each try would hold one more worker thread).
      started = performance.now();
      const refused = await quote();
      expect(refused.status).toBe(503);
      expect(refused.json().error.message).toMatch(/has not answered Esys_\w+, sent \d+ s ago; it is used again once it answers/);
      // Opening it again would wait out the swtpm probe's 10 s (its control port is silent too).
      expect(performance.now() - started).toBeLessThan(5_000);
      const health = (await call(gateway, 'GET', '/health', key)).json();
      expect(health.status).toBe('degraded');
      expect(health.tpm.last_error).toMatch(/has not answered/);

      swtpm.resume();
      const back = await eventually(async () => ((await quote()).status === 200 ? true : undefined), 30_000, 'a quote once the TPM answers again');
      expect(back).toBe(true);
      expect((await call(gateway, 'GET', '/health', key)).json().status).toBe('ok');
    } finally {
      swtpm.resume();
      await gateway.close();
      await swtpm.stop();
    }
  }, 60_000);
});

/** Two consecutive ports on 127.0.0.1 (a software TPM's command and control ports) that accept connections and never answer. */
async function silentPortPair(): Promise<{ port: number; close: () => void }> {
  const listen = (port: number) =>
    new Promise<Server | undefined>((resolve) => {
      const server = createServer((socket) => sockets.push(socket));
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  const sockets: Socket[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await listen(0);
    const port = (first!.address() as AddressInfo).port;
    const second = await listen(port + 1);
    if (second) {
      return { port, close: () => (sockets.forEach((s) => s.destroy()), first!.close(), second.close()) };
    }
    first!.close();
  }
  throw new Error('no two consecutive free ports on 127.0.0.1');
}
