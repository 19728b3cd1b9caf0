// mesh.identity = "tpm" against Debian's swtpm: the peer key is created and
// persisted in the TPM, libp2p signs through TPM2_Sign, and an ordinary peer
// (stock libp2p, a key file) connects, verifies it and calls its tools.
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../host/src/config/load.js';
import { resolveSettings } from '../host/src/config/resolve.js';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import { Attestor } from '../host/src/security/tpm/attestor.js';
import { TpmError } from '../host/src/security/tpm/errors.js';
import { Tpm, TR } from '../host/src/security/tpm/esys.js';
import { release } from '../host/src/security/tpm/identity.js';
import { TpmRsaPrivateKey } from '../host/src/security/tpm/libp2p-key.js';
import { loadMeshKey, meshPublicKeyDer, signWithMeshKey } from '../host/src/security/tpm/mesh-key.js';
import { parseTcti } from '../host/src/security/tpm/tcti.js';
import { akTemplate, emptySensitive, MESH_KEY_HANDLE } from '../host/src/security/tpm/templates.js';
import { Verifier } from '../host/src/security/tpm/verifier.js';
import { connectClient, EVERYTHING, eventually, freePort, NODE, REPLICA, startGateway, textOf } from './helpers/gateway.js';
import { docPage } from './helpers/docs.js';
import { collect, spawnCli, tempDir, waitForExit } from './helpers/processes.js';
import { startSwtpm, type SoftwareTpm } from './helpers/swtpm.js';
import { refusal } from './helpers/attestation.js';

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];

async function typedError(run: () => Promise<unknown>): Promise<TpmError> {
  const err = await run().then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TpmError);
  return err as TpmError;
}

describe('mesh.identity in the config', () => {
  it('refuses "tpm" without security.use_tpm, and a value it does not know, naming the key', () => {
    const refusal = (config: EdgeConfigInput): string => {
      try {
        validateConfig(config, 'test config');
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(refusal({ mesh: { identity: 'tpm' } })).toMatch(/mesh\.identity.*security\.use_tpm = true/s);
    expect(refusal({ mesh: { identity: 'hsm' as never } })).toMatch(/mesh\.identity.*"file".*"tpm"/s);
    expect(refusal({ mesh: { identity: 'tpm' }, security: { use_tpm: true } })).toBe('accepted');
    // An RSA peer id (what a TPM identity has) may be allowlisted like an Ed25519 one.
    expect(refusal({ mesh: { allowed_peers: ['QmPj394CuiTr7q6hTrXU7NsCJGvQoxXEGMW16DAZwuGxrW'] } })).toBe('accepted');
  });

  it('accepts the docs/tpm.md example as written', () => {
    const config = parseConfig(docPage('docs/tpm.md').example('mesh-tpm', 'toml'), 'docs/tpm.md', {});
    expect(config.mesh).toMatchObject({ enabled: true, identity: 'tpm' });
    expect(resolveSettings(config).mesh?.identity).toBe('tpm');
    expect(resolveSettings(config).peerAttestation).toBeDefined();
  });
});

describe('the mesh key in the TPM', () => {
  let swtpm: SoftwareTpm;
  let tpm: Tpm;
  beforeAll(async () => {
    swtpm = await startSwtpm();
    tpm = Tpm.open(parseTcti(swtpm.tcti));
  }, 60_000);
  afterAll(async () => {
    await tpm?.close();
    await swtpm?.stop();
  });

  it('is created once and persisted, signs what libp2p and node:crypto verify, and leaks no handle', async () => {
    const first = await loadMeshKey(tpm);
    const spki = meshPublicKeyDer(first);
    await release(tpm, first);
    // Persisted: the TPM holds it at its handle (a primary key recreated each time would have the same public key too).
    const persisted = await tpm.fromTpmPublic(MESH_KEY_HANDLE);
    expect(persisted).toBeDefined();
    await tpm.closeTr(persisted!);
    const again = await loadMeshKey(tpm);
    expect(meshPublicKeyDer(again)).toEqual(spki);
    const key = new TpmRsaPrivateKey(spki, (digest) => signWithMeshKey(tpm, again, digest));
    const data = new TextEncoder().encode('noise-libp2p-static-key:0123456789abcdef');
    for (let i = 0; i < 20; i++) {
      const signature = await key.sign(data);
      expect(await key.publicKey.verify(data, signature)).toBe(true);
      expect(verify('sha256', data, { key: spki, format: 'der', type: 'spki' }, signature)).toBe(true);
    }
    const other = new TextEncoder().encode('another message');
    expect(await key.publicKey.verify(other, await key.sign(data))).toBe(false);
    expect(peerIdFromPublicKey(key.publicKey).toString()).toMatch(/^Qm[1-9A-HJ-NP-Za-km-z]{44}$/);
    expect(() => key.raw).toThrow(/lives in the TPM/);
    await release(tpm, again);
    expect(await tpm.openHandles()).toBe(0);
  });

  it('refuses a foreign key at its handle instead of replacing it', async () => {
    const second = await startSwtpm();
    const other = Tpm.open(parseTcti(second.tcti));
    try {
      const foreign = await other.createPrimary(TR.RH_OWNER, akTemplate(), emptySensitive());
      await other.closeTr(await other.persist(foreign.tr, MESH_KEY_HANDLE));
      await other.flush(foreign.tr);
      const err = await typedError(() => loadMeshKey(other));
      expect(err.code).toBe('tpm_state_unexpected');
      expect(err.message).toMatch(/0x81000100.*not an mcp-edge mesh key.*tpm2_evictcontrol/);
      expect(await other.openHandles()).toBe(0);
    } finally {
      await other.close();
      await second.stop();
    }
  }, 60_000);
});

describe("the AK's certification of the mesh key", () => {
  let swtpm: SoftwareTpm;
  let node: Attestor;
  beforeAll(async () => {
    swtpm = await startSwtpm();
    node = await Attestor.start(Tpm.open(parseTcti(swtpm.tcti)), { pcrs: [0], code: Buffer.alloc(32, 1), config: Buffer.alloc(32, 2) });
  }, 60_000);
  afterAll(async () => {
    await node?.close();
    await swtpm?.stop();
  });

  it('verifies for the mesh key and a fresh nonce, and refuses another key, a swapped key, another nonce and a replay', async () => {
    const verifier = new Verifier({ pcrs: [0], policy: {} });
    const ak = await verifier.register(await node.identity(), (blob, secret) => node.activate(blob, secret));
    const meshKey = createPublicKey({ key: await node.meshPublicKey(), format: 'der', type: 'spki' });
    const nonce = verifier.issueNonce();
    const certification = await node.certifyMeshKey(nonce);
    const { publicKey: stranger } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(refusal(() => verifier.verifyKeyCertification(ak, nonce, certification, stranger))).toBe('key_not_bound');
    const again = verifier.issueNonce();
    const fresh = await node.certifyMeshKey(again);
    const akPublic = (await node.identity()).akPublic;
    expect(refusal(() => verifier.verifyKeyCertification(ak, again, { ...fresh, keyPublic: akPublic }, meshKey))).toBe('key_not_bound');
    const third = verifier.issueNonce();
    expect(refusal(() => verifier.verifyKeyCertification(ak, third, fresh, meshKey))).toBe('nonce_mismatch');
    const fourth = verifier.issueNonce();
    const good = await node.certifyMeshKey(fourth);
    expect(refusal(() => verifier.verifyKeyCertification(ak, fourth, good, meshKey))).toBe('accepted');
    expect(refusal(() => verifier.verifyKeyCertification(ak, fourth, good, meshKey))).toBe('nonce_replayed');
    expect(await node.openHandles()).toBe(0);
  });
});

describe('two gateways on a mesh, one with its peer key in the TPM', () => {
  const keyFile = join(tempDir('mcp-edge-tpm-mesh-'), 'mesh.key');
  writeNetworkKey(keyFile);
  let swtpm: SoftwareTpm;
  let tpmNode: Gateway;
  let plainNode: Gateway;
  const tpmConfig = (): EdgeConfigInput => ({
    security: { use_tpm: true, tpm_device: swtpm.tcti, tpm_pcrs: [0] },
    upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'T' } }],
    mesh: { enabled: true, identity: 'tpm', listen: LOOPBACK, network_key_file: keyFile, share: ['whoami'], announce_interval_ms: 300 },
  });

  beforeAll(async () => {
    swtpm = await startSwtpm();
    tpmNode = await startGateway(tpmConfig());
    plainNode = await startGateway({
      upstreams: [{ id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING] }],
      mesh: { enabled: true, listen: LOOPBACK, network_key_file: keyFile, share: ['echo'], bootstrap: tpmNode.mesh!.addresses(), announce_interval_ms: 300 },
    });
  }, 90_000);

  it('connect and call each other\'s tools; the plain node knows the TPM node by its RSA key', async () => {
    expect(tpmNode.mesh!.peerId).toMatch(/^Qm/);
    expect(plainNode.mesh!.peerId).toMatch(/^12D3KooW/);
    const onPlain = await connectClient(plainNode);
    const onTpm = await connectClient(tpmNode);
    await eventually(async () => ((await onPlain.listTools()).tools.some((t) => t.name === 'whoami') ? true : undefined), 20_000, "the TPM node's whoami on the plain node");
    await eventually(async () => ((await onTpm.listTools()).tools.some((t) => t.name === 'echo') ? true : undefined), 20_000, "the plain node's echo on the TPM node");
    expect(textOf(await onPlain.callTool({ name: 'whoami' }))).toBe('T');
    expect(textOf(await onTpm.callTool({ name: 'echo', arguments: { message: 'over the mesh' } }))).toContain('over the mesh');
    // The plain node verified the noise handshake against this key: the TPM's.
    const seen = await plainNode.mesh!.node.peerStore.get(tpmNode.mesh!.node.peerId);
    expect(seen.id.publicKey?.type).toBe('RSA');
    expect(seen.id.publicKey?.equals(tpmNode.mesh!.node.peerId.publicKey)).toBe(true);
  }, 60_000);

  it('leaves no transient object or session in the TPM after handshakes, gossip and calls', async () => {
    expect(await tpmNode.tpm!.openHandles()).toBe(0);
  });

  it('fails handshakes while its TPM is down, without crashing, and signs again once the TPM is back', async () => {
    const target = multiaddr(tpmNode.mesh!.addresses()[0]!);
    const dialer = plainNode.mesh!.node;
    await swtpm.stop();
    try {
      await dialer.hangUp(tpmNode.mesh!.node.peerId);
      const dialed = await dialer.dial(target, { signal: AbortSignal.timeout(10_000) }).then(() => 'connected', (err: Error) => err.message);
      expect(dialed).not.toBe('connected');
      const health = tpmNode.health();
      expect(health.status).toBe('degraded');
      // Whichever step found it down (a signature, or opening the TCTI again), the reason says so.
      expect(health.reasons.join('\n')).toMatch(/TPM \(swtpm:.*\): .*the TPM is unreachable/);
    } finally {
      // The tests after this one need the TPM, whatever happened above.
      await swtpm.restart();
    }
    await eventually(() => dialer.dial(target, { signal: AbortSignal.timeout(5_000) }).then(() => true, () => undefined), 20_000, 'a handshake once the TPM is back');
    expect(tpmNode.health().reasons.filter((r) => r.includes('TPM'))).toEqual([]);
    // The plain node announces itself again over the new connection (gossip the TPM signs too).
    await eventually(() => (tpmNode.health().status === 'ok' ? true : undefined), 20_000, 'the plain node back in the mesh');
    expect(await tpmNode.tpm!.openHandles()).toBe(0);
  }, 60_000);

  it('keeps its peer id across a gateway restart with a new data dir, and across a TPM reboot', async () => {
    const peerId = tpmNode.mesh!.peerId;
    await tpmNode.close();
    tpmNode = await startGateway(tpmConfig());
    expect(tpmNode.mesh!.peerId).toBe(peerId);
    await tpmNode.close();
    await swtpm.restart();
    tpmNode = await startGateway(tpmConfig());
    expect(tpmNode.mesh!.peerId).toBe(peerId);
    expect(await tpmNode.tpm!.openHandles()).toBe(0);
  }, 60_000);

  it('`mcp-edge mesh id` prints the peer id of the key in the TPM', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'mcp-edge.toml'), `[security]\nuse_tpm = true\ntpm_device = "${swtpm.tcti}"\n\n[mesh]\nidentity = "tpm"\n`);
    const child = spawnCli(['mesh', 'id', '--config', join(dir, 'mcp-edge.toml'), '--data-dir', dir]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    expect(await waitForExit(child), stderr.text()).toBe(0);
    expect(stdout.text().trim()).toBe(tpmNode.mesh!.peerId);
  }, 30_000);
});

describe('a TPM identity whose TPM cannot be reached', () => {
  it('stops the start with a typed error that names the TPM', async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const config: EdgeConfigInput = {
      gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir },
      security: { use_tpm: true, tpm_device: `swtpm:host=127.0.0.1,port=${port}` },
      mesh: { enabled: true, identity: 'tpm', listen: LOOPBACK, open: true },
    };
    const err = await typedError(() => startGateway(config));
    expect(err.code).toBe('tpm_unreachable');
    expect(err.message).toMatch(/security\.tpm_device/);
    writeFileSync(join(dataDir, 'still-writable'), ''); // the process is alive and well
  });
});
