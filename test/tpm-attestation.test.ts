// Attestation end to end against two of Debian's swtpm: the gateway's
// measurement, quotes, credential activation, and a verifier that refuses
// each known way of cheating with its own reason.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attestor, type AttestationEvidence } from '../host/src/security/tpm/attestor.js';
import { Tpm } from '../host/src/security/tpm/esys.js';
import { codeDigest, configDigest } from '../host/src/security/tpm/measure.js';
import { parseTcti } from '../host/src/security/tpm/tcti.js';
import { Verifier, type ReferencePolicy, type RegisteredAk } from '../host/src/security/tpm/verifier.js';
import { startSwtpm, type SoftwareTpm } from './helpers/swtpm.js';
import { refusal, refusalOf } from './helpers/attestation.js';
import { tempDir } from './helpers/processes.js';

const PCRS = [0, 1, 2, 3, 4, 5, 6, 7];
const CODE = Buffer.alloc(32, 7); // stands for the code digest; the real one is measured in the gateway test
const CONFIG = configDigest({ gateway: { bind_address: '127.0.0.1' } });

describe('the measurement', () => {
  it('changes when a file of the code changes, is renamed or added, and not otherwise', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'cli.js'), 'main()');
    writeFileSync(join(dir, 'core.wasm'), Buffer.from([0, 97, 115, 109]));
    const first = codeDigest(dir);
    expect(codeDigest(dir)).toEqual(first);
    writeFileSync(join(dir, 'cli.js'), 'main( )');
    const edited = codeDigest(dir);
    expect(edited).not.toEqual(first);
    writeFileSync(join(dir, 'cli.js.map'), '{}'); // source maps are not code
    expect(codeDigest(dir)).toEqual(edited);
    writeFileSync(join(dir, 'extra.js'), '');
    expect(codeDigest(dir)).not.toEqual(edited);
    expect(configDigest({ a: 1 })).not.toEqual(configDigest({ a: 2 }));
  });
});

describe('attestation', () => {
  let swtpmA: SoftwareTpm;
  let swtpmB: SoftwareTpm;
  let nodeA: Attestor;
  let nodeB: Attestor;
  let policy: ReferencePolicy;
  let verifier: Verifier;
  let akA: RegisteredAk;

  beforeAll(async () => {
    [swtpmA, swtpmB] = await Promise.all([startSwtpm(), startSwtpm()]);
    nodeA = await Attestor.start(Tpm.open(parseTcti(swtpmA.tcti)), { pcrs: PCRS, code: CODE, config: CONFIG });
    nodeB = await Attestor.start(Tpm.open(parseTcti(swtpmB.tcti)), { pcrs: PCRS, code: CODE, config: CONFIG });
    const first = await nodeA.quote(Buffer.alloc(16, 1));
    policy = { pcrs: { 0: first.pcrs['0']! }, code: [CODE.toString('hex')], config: [CONFIG.toString('hex')] };
    const ca = new X509Certificate(readFileSync(join(swtpmA.dir, 'ca', 'issuercert.pem')));
    verifier = new Verifier({ pcrs: PCRS, policy, ekCas: [ca] });
    akA = await verifier.register(await nodeA.identity(), (blob, secret) => nodeA.activate(blob, secret));
  }, 90_000);

  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await Promise.all([swtpmA?.stop(), swtpmB?.stop()]);
  });

  it('accepts a fresh quote from the registered node, and leaves no TPM handle open', async () => {
    const nonce = verifier.issueNonce();
    const evidence = await nodeA.quote(nonce);
    const info = verifier.verify(akA, nonce, evidence);
    expect(info.extraData).toEqual(nonce);
    expect(Object.keys(evidence.pcrs)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '23']);
    expect(await nodeA.openHandles()).toBe(0);
    expect(await nodeB.openHandles()).toBe(0);
  });

  it('refuses a replayed quote, a nonce it never issued, and a quote made for another nonce', async () => {
    const nonce = verifier.issueNonce();
    const evidence = await nodeA.quote(nonce);
    expect(refusal(() => verifier.verify(akA, nonce, evidence))).toBe('accepted');
    expect(refusal(() => verifier.verify(akA, nonce, evidence))).toBe('nonce_replayed');
    const own = Buffer.alloc(32, 9);
    expect(refusal(() => verifier.verify(akA, own, evidence))).toBe('nonce_mismatch');
    const made = await nodeA.quote(own);
    expect(refusal(() => verifier.verify(akA, own, made))).toBe('nonce_unknown');
    const fresh = verifier.issueNonce();
    expect(refusal(() => verifier.verify(akA, fresh, evidence))).toBe('nonce_mismatch');
  });

  it('refuses PCR values that do not match the signed digest, and an event log that does not replay', async () => {
    const nonce = verifier.issueNonce();
    const evidence = await nodeA.quote(nonce);
    const tampered: AttestationEvidence = { ...evidence, pcrs: { ...evidence.pcrs, '5': 'ab'.repeat(32) } };
    expect(refusal(() => verifier.verify(akA, nonce, tampered))).toBe('pcr_digest_mismatch');
    const nonce2 = verifier.issueNonce();
    const evidence2 = await nodeA.quote(nonce2);
    const forged: AttestationEvidence = { ...evidence2, eventLog: evidence2.eventLog.map((e) => (e.what === 'config' ? { ...e, digest: 'cd'.repeat(32) } : e)) };
    expect(refusal(() => verifier.verify(akA, nonce2, forged))).toBe('event_log_mismatch');
  });

  it('refuses a quote from another TPM, under its own name or the registered one', async () => {
    const nonce = verifier.issueNonce();
    const fromB = await nodeB.quote(nonce);
    expect(refusal(() => verifier.verify(akA, nonce, fromB))).toBe('wrong_key');
    expect(refusal(() => verifier.verify(akA, nonce, { ...fromB, akName: akA.name.toString('hex') }))).toBe('signature_invalid');
  });

  it('refuses an AK that is not in the TPM of the certified EK (credential activation)', async () => {
    const a = await nodeA.identity();
    const b = await nodeB.identity();
    // B's AK claimed under A's EK: only A's TPM can unwrap, and it refuses a credential for a name it does not hold.
    const claimed = { ...a, akPublic: b.akPublic, akName: b.akName };
    expect(await refusalOf(() => verifier.register(claimed, (blob, secret) => nodeA.activate(blob, secret)))).toBe('activation_failed');
    // A's identity answered by B's TPM.
    const caB = new X509Certificate(readFileSync(join(swtpmB.dir, 'ca', 'issuercert.pem')));
    const open = new Verifier({ pcrs: PCRS, policy, ekCas: [caB] });
    expect(await refusalOf(() => open.register({ ...b, ekPublic: a.ekPublic, ekCertificate: a.ekCertificate }, (blob, secret) => nodeB.activate(blob, secret)))).toBe(
      'ek_certificate_invalid',
    );
    const anyCa = new Verifier({ pcrs: PCRS, policy });
    expect(await refusalOf(() => anyCa.register({ ...b, ekPublic: a.ekPublic, ekCertificate: a.ekCertificate }, (blob, secret) => nodeB.activate(blob, secret)))).toBe(
      'activation_failed',
    );
    // The EK certificate must be for the EK it comes with.
    expect(await refusalOf(() => anyCa.register({ ...a, ekCertificate: b.ekCertificate }, (blob, secret) => nodeA.activate(blob, secret)))).toBe('ek_certificate_invalid');
    expect(await nodeA.openHandles()).toBe(0);
    expect(await nodeB.openHandles()).toBe(0);
  });

  it('refuses a gateway whose config changed: its PCR and event log no longer match the reference', async () => {
    const changed = await Attestor.start(Tpm.open(parseTcti(swtpmB.tcti)), { pcrs: PCRS, code: CODE, config: configDigest({ changed: true }) });
    try {
      const v = new Verifier({ pcrs: PCRS, policy: { config: policy.config! } });
      const akB = await v.register(await changed.identity(), (blob, secret) => changed.activate(blob, secret));
      const nonce = v.issueNonce();
      const evidence = await changed.quote(nonce);
      expect(refusal(() => v.verify(akB, nonce, evidence))).toBe('policy_mismatch');
    } finally {
      await changed.close();
    }
  });

  it('makes quotes that tpm2_checkquote (tpm2-tools) verifies independently', async () => {
    const nonce = verifier.issueNonce();
    const evidence = await nodeA.quote(nonce);
    const dir = tempDir();
    writeFileSync(join(dir, 'ak.pem'), (await nodeA.identity()).akPem);
    writeFileSync(join(dir, 'quote.msg'), Buffer.from(evidence.attest, 'base64'));
    writeFileSync(join(dir, 'quote.sig'), Buffer.from(evidence.signature, 'base64'));
    const args = ['-u', join(dir, 'ak.pem'), '-m', join(dir, 'quote.msg'), '-s', join(dir, 'quote.sig'), '-g', 'sha256', '-q', nonce.toString('hex')];
    const good = spawnSync('tpm2_checkquote', args, { encoding: 'utf8', timeout: 10_000 });
    expect(good.status, good.stderr).toBe(0);
    const other = spawnSync('tpm2_checkquote', [...args.slice(0, -1), 'ff'.repeat(32)], { encoding: 'utf8', timeout: 10_000 });
    expect(other.status).not.toBe(0);
  });
});
