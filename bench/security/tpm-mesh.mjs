#!/usr/bin/env node
// bench/security/tpm-mesh: what a mesh identity in the TPM (mesh.identity =
// "tpm") costs against Debian's swtpm, in one run.
//
// - sign: the TPM key's sign() (SHA-256 here, TPM2_Sign through ESAPI on
//   koffi's worker thread) over a 32-byte payload (what Noise signs), SIGNS
//   times; baselines in the same process: libp2p's software RSA 2048 key and
//   its Ed25519 key (the default mesh identity). Median and p95 in ms.
// - connect: a fresh dial (TCP, Noise, Yamux) from a plain node to a mesh
//   node (host/dist/mesh/node.js, the gateway's libp2p stack) whose key is the
//   TPM's, a software RSA 2048 key, or an Ed25519 key; CONNECTS rounds taking
//   turns, each dial on a new connection. The dialer verifies the target's
//   handshake signature; the target signs it (in the TPM for "tpm").
// - handles: transient objects and sessions the TPM holds afterwards (must be 0).
// - attest: what a gateway with attestation_required pays before its first
//   call to a mesh peer (two gateways in this process, the peer with a TPM
//   identity): registration (identity, credential activation), a quote and
//   the key certification, over /mcp-edge/attest/1.0.0, with a new verifier
//   each time; then a re-attestation (AK registered: quote and certification).
//   Baseline: a libp2p ping over the same connection. ATTESTS rounds.
//
//   node bench/security/tpm-mesh.mjs   (env: SIGNS=200 CONNECTS=30 ATTESTS=20)
// Prints one JSON document on stdout. Needs the built host (npm run build) and swtpm.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { createGateway } from '../../host/dist/index.js';
import { meshChannel } from '../../host/dist/mesh/attestation.js';
import { createMeshNode } from '../../host/dist/mesh/node.js';
import { PeerAttestation } from '../../host/dist/security/tpm/peer-attestation.js';
import { createLogger } from '../../host/dist/telemetry/log.js';
import { createPublicKey } from 'node:crypto';
import { multiaddr } from '@multiformats/multiaddr';
import { Tpm } from '../../host/dist/security/tpm/esys.js';
import { TpmRsaPrivateKey } from '../../host/dist/security/tpm/libp2p-key.js';
import { loadMeshKey, meshPublicKeyDer, signWithMeshKey } from '../../host/dist/security/tpm/mesh-key.js';
import { release } from '../../host/dist/security/tpm/identity.js';
import { parseTcti } from '../../host/dist/security/tpm/tcti.js';
import { startSwtpm } from '../../scripts/swtpm.mjs';
import { stats, timed } from './timing.mjs';

const SIGNS = Number(process.env.SIGNS ?? 200);
const CONNECTS = Number(process.env.CONNECTS ?? 30);
const ATTESTS = Number(process.env.ATTESTS ?? 20);

/** @param {import('@libp2p/interface').PrivateKey} key */
async function signTimes(key) {
  const payload = new Uint8Array(32).fill(7);
  const times = [];
  for (let i = 0; i < SIGNS; i++) times.push((await timed(() => Promise.resolve(key.sign(payload))))[1]);
  return times;
}

/** @type {import('../../host/dist/config/mesh-settings.js').MeshSettings} */
const SETTINGS = {
  identity: 'file', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], relayService: false, holePunching: true, bootstrap: [], mdns: false, networkKeyFile: undefined, allowedPeers: undefined,
  share: [], shareResources: [], sharePrompts: [], announceIntervalMs: 10_000, callTimeoutMs: 10_000, localityMs: 5, preferRemote: [], fanOut: [], identityFile: '',
  context: { spaces: [], maxUpdateBytes: 256 * 1024, maxDocBytes: 16 * 1024 * 1024, syncIntervalMs: 5_000 },
};

/** @param {Record<string, import('@libp2p/interface').PrivateKey>} keys */
async function connectTimes(keys) {
  const dialer = await createMeshNode(SETTINGS, await generateKeyPair('Ed25519'), undefined);
  const targets = Object.fromEntries(await Promise.all(Object.entries(keys).map(async ([name, key]) => [name, await createMeshNode(SETTINGS, key, undefined)])));
  await Promise.all([dialer, ...Object.values(targets)].map((n) => n.start()));
  /** @type {Record<string, number[]>} */
  const times = Object.fromEntries(Object.keys(keys).map((name) => [name, []]));
  try {
    for (let round = 0; round < CONNECTS; round++) {
      for (const [name, target] of Object.entries(targets)) {
        const addr = target.getMultiaddrs()[0];
        if (!addr) throw new Error(`${name} has no address`);
        times[name]?.push((await timed(() => dialer.dial(addr, { signal: AbortSignal.timeout(10_000) })))[1]);
        await dialer.hangUp(target.peerId);
      }
      // libp2p refuses more than 5 inbound connections per second from one host (inboundConnectionThreshold).
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await Promise.all([dialer, ...Object.values(targets)].map((n) => n.stop()));
  }
  return Object.fromEntries(Object.entries(times).map(([name, xs]) => [name, stats(xs)]));
}

/** @param {string} tcti @param {string} dir */
async function attestTimes(tcti, dir) {
  const logger = createLogger('silent');
  const mesh = { enabled: true, open: true, listen: ['/ip4/127.0.0.1/tcp/0'] };
  const prover = await createGateway({ config: { gateway: { bind_address: '127.0.0.1:0', data_dir: join(dir, 'prover') }, security: { use_tpm: true, tpm_device: tcti, tpm_pcrs: [0] }, mesh: { ...mesh, identity: 'tpm' } }, logger });
  const verifierNode = await createGateway({ config: { gateway: { bind_address: '127.0.0.1:0', data_dir: join(dir, 'verifier') }, mesh: { ...mesh, bootstrap: prover.mesh?.addresses() ?? [] } }, logger });
  try {
    const node = /** @type {NonNullable<typeof verifierNode.mesh>} */ (verifierNode.mesh).node;
    const peerId = /** @type {NonNullable<typeof prover.mesh>} */ (prover.mesh).node.peerId;
    const connection = await node.dial(multiaddr(/** @type {NonNullable<typeof prover.mesh>} */ (prover.mesh).addresses()[0] ?? ''));
    const key = createPublicKey({ key: Buffer.from(/** @type {{ raw: Uint8Array }} */ (connection.remotePeer.publicKey).raw), format: 'der', type: 'spki' });
    const channel = meshChannel(node, peerId.toString());
    const audit = { record: () => true, admits: () => true };
    const first = [];
    const again = [];
    const ping = [];
    for (let i = 0; i < ATTESTS; i++) {
      let now = 0;
      const attestation = new PeerAttestation({ verifier: { pcrs: [0], policy: {} }, intervalMs: 1 }, audit, logger, () => now);
      first.push((await timed(() => attestation.admit('peer', 'peer', channel, () => key)))[1]);
      now += 2; // past the interval: the next admit quotes again, with the AK registered
      again.push((await timed(() => attestation.admit('peer', 'peer', channel, () => key)))[1]);
      ping.push((await timed(() => node.services.ping.ping(peerId)))[1]);
    }
    return { firstAdmission: stats(first), reAttestation: stats(again), pingBaseline: stats(ping), openHandles: await prover.tpm?.openHandles() };
  } finally {
    await verifierNode.close();
    await prover.close();
  }
}

const dir = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-tpm-mesh-'));
const loadAtStart = Math.round((os.loadavg()[0] ?? NaN) * 100) / 100;
const swtpm = await startSwtpm(join(dir, 'tpm'));
try {
  const tpm = Tpm.open(parseTcti(swtpm.tcti));
  const createdIn = (await timed(async () => release(tpm, await loadMeshKey(tpm))))[1];
  const key = await loadMeshKey(tpm);
  const tpmKey = new TpmRsaPrivateKey(meshPublicKeyDer(key), (digest) => signWithMeshKey(tpm, key, digest));
  const rsa = await generateKeyPair('RSA', 2048);
  const ed25519 = await generateKeyPair('Ed25519');
  const sign = { tpm: stats(await signTimes(tpmKey)), softwareRsa2048: stats(await signTimes(rsa)), softwareEd25519: stats(await signTimes(ed25519)) };
  const connect = await connectTimes({ tpm: tpmKey, softwareRsa2048: rsa, softwareEd25519: ed25519 });
  await release(tpm, key);
  const openHandles = await tpm.openHandles();
  await tpm.close();
  const attest = await attestTimes(swtpm.tcti, dir);
  const result = {
    bench: 'security/tpm-mesh',
    tpm: 'swtpm (Debian), TCP on 127.0.0.1',
    meshKeyCreatedOrLoadedMs: Math.round(createdIn * 1000) / 1000,
    sign,
    connect,
    ratios: {
      signTpmToSoftwareRsa: Math.round((sign.tpm.medianMs / sign.softwareRsa2048.medianMs) * 100) / 100,
      connectTpmToEd25519: Math.round(((connect.tpm?.medianMs ?? NaN) / (connect.softwareEd25519?.medianMs ?? NaN)) * 100) / 100,
    },
    openHandles,
    attest,
    machine: { cpus: os.cpus().length, node: process.version, loadAvg1mAtStart: loadAtStart, loadAvg1mAtEnd: Math.round((os.loadavg()[0] ?? NaN) * 100) / 100 },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await swtpm.stop();
  rmSync(dir, { recursive: true, force: true });
}
