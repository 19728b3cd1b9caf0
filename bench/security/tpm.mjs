#!/usr/bin/env node
// bench/security/tpm: what attestation costs against Debian's swtpm, in one run.
//
// - quote: Attestor.quote (TPM2_Quote + TPM2_PCR_Read of 9 PCRs through ESAPI
//   on koffi's worker thread) and Verifier.verify, QUOTES times each; median
//   and p95 in ms. Baseline, same TPM, same connection: one PCR read
//   (tpm.readPcrs([0])), the cheapest TPM round trip; quote/pcrRead is the ratio.
// - handles: transient objects and sessions the TPM holds after ATTESTATIONS
//   quote+verify rounds and after as many credential activations (must be 0).
// - first call: what a verifier pays before its first call to a peer gateway
//   (over REST: identity, credential activation, nonce, quote, verify),
//   against one authenticated REST call to the same gateway (GET /health).
//
//   node bench/security/tpm.mjs   (env: QUOTES=200 ATTESTATIONS=1000 FIRST_CALLS=20)
// Prints one JSON document on stdout. Needs the built host (npm run build) and swtpm.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../../host/dist/index.js';
import { Attestor } from '../../host/dist/security/tpm/attestor.js';
import { Tpm } from '../../host/dist/security/tpm/esys.js';
import { configDigest } from '../../host/dist/security/tpm/measure.js';
import { parseTcti } from '../../host/dist/security/tpm/tcti.js';
import { Verifier } from '../../host/dist/security/tpm/verifier.js';
import { ApiKeyStore } from '../../host/dist/security/api-keys.js';
import { createLogger } from '../../host/dist/telemetry/log.js';
import { startSwtpm } from '../../scripts/swtpm.mjs';
import { quantile, stats, timed } from './timing.mjs';

const QUOTES = Number(process.env.QUOTES ?? 200);
const ATTESTATIONS = Number(process.env.ATTESTATIONS ?? 1000);
const FIRST_CALLS = Number(process.env.FIRST_CALLS ?? 20);
const PCRS = [0, 1, 2, 3, 4, 5, 6, 7];

/** @param {Attestor} node @param {Verifier} verifier @param {Tpm} tpm */
async function quoteRounds(node, verifier, tpm) {
  const ak = await verifier.register(await node.identity(), (blob, secret) => node.activate(blob, secret));
  const quote = [];
  const verify = [];
  const pcrRead = [];
  for (let i = 0; i < QUOTES; i++) {
    const nonce = verifier.issueNonce();
    const [evidence, q] = await timed(() => node.quote(nonce));
    const start = performance.now();
    verifier.verify(ak, nonce, evidence);
    verify.push(performance.now() - start);
    quote.push(q);
    pcrRead.push((await timed(() => tpm.readPcrs([0])))[1]);
  }
  return { quote: stats(quote), verify: stats(verify), pcrReadBaseline: stats(pcrRead), ratioQuoteToPcrRead: Math.round((quantile(quote, 0.5) / quantile(pcrRead, 0.5)) * 100) / 100, ak };
}

/** @param {Attestor} node @param {Verifier} verifier @param {import('../../host/dist/security/tpm/verifier.js').RegisteredAk} ak */
async function leakRounds(node, verifier, ak) {
  for (let i = 0; i < ATTESTATIONS; i++) {
    const nonce = verifier.issueNonce();
    verifier.verify(ak, nonce, await node.quote(nonce));
  }
  const afterQuotes = await node.openHandles();
  for (let i = 0; i < Math.min(ATTESTATIONS, 200); i++) await verifier.register(await node.identity(), (blob, secret) => node.activate(blob, secret));
  return { attestations: ATTESTATIONS, openAfterAttestations: afterQuotes, activations: Math.min(ATTESTATIONS, 200), openAfterActivations: await node.openHandles() };
}

/** @param {string} tcti @param {string} dataDir */
async function firstCall(tcti, dataDir) {
  const gateway = await createGateway({
    config: { gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir }, auth: { api_keys: true }, security: { use_tpm: true, tpm_device: tcti, tpm_pcrs: PCRS } },
    logger: createLogger('silent'),
  });
  try {
    const key = new ApiKeyStore(gateway.db).create({ name: 'bench', scopes: [] }, Date.now()).key;
    const base = gateway.url.replace(/\/mcp$/, '');
    /** @param {string} method @param {string} path @param {unknown} [body] */
    const call = async (method, path, body) => {
      const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    const plain = [];
    const attested = [];
    for (let i = 0; i < FIRST_CALLS; i++) {
      plain.push((await timed(() => call('GET', '/health')))[1]);
      const verifier = new Verifier({ pcrs: PCRS, policy: {} });
      attested.push(
        (
          await timed(async () => {
            const ak = await verifier.register(await call('GET', '/v1/attestation/identity'), async (blob, secret) =>
              Buffer.from((await call('POST', '/v1/attestation/activate', { blob: blob.toString('base64'), secret: secret.toString('base64') })).credential, 'base64'),
            );
            const nonce = verifier.issueNonce();
            verifier.verify(ak, nonce, await call('POST', '/v1/attestation/quote', { nonce: nonce.toString('hex') }));
          })
        )[1],
      );
    }
    return { plainRestCall: stats(plain), attestationBeforeFirstCall: stats(attested), ratio: Math.round((quantile(attested, 0.5) / quantile(plain, 0.5)) * 10) / 10 };
  } finally {
    await gateway.close();
  }
}

const dir = mkdtempSync(join(os.tmpdir(), 'mcp-edge-bench-tpm-'));
const loadAtStart = Math.round((os.loadavg()[0] ?? NaN) * 100) / 100;
const swtpm = await startSwtpm(join(dir, 'tpm'));
try {
  const tpm = Tpm.open(parseTcti(swtpm.tcti));
  const node = await Attestor.start(tpm, { pcrs: PCRS, code: Buffer.alloc(32, 1), config: configDigest({}) });
  const verifier = new Verifier({ pcrs: PCRS, policy: {} });
  const { ak, ...quotes } = await quoteRounds(node, verifier, tpm);
  const handles = await leakRounds(node, verifier, ak);
  await node.close();
  const first = await firstCall(swtpm.tcti, join(dir, 'data'));
  const result = {
    bench: 'security/tpm',
    tpm: 'swtpm 0.7 (Debian 12), TCP on 127.0.0.1',
    quotes,
    handles,
    firstCall: first,
    machine: { cpus: os.cpus().length, node: process.version, loadAvg1mAtStart: loadAtStart, loadAvg1mAtEnd: Math.round((os.loadavg()[0] ?? NaN) * 100) / 100 },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await swtpm.stop();
  rmSync(dir, { recursive: true, force: true });
}
