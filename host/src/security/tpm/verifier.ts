// The verifier: registers a node's AK (its EK certificate checked, the AK
// bound to the EK by credential activation) and checks its quotes. Each
// refusal has a stable reason; the checks follow the known verifier failures
// (a reused or foreign nonce, a quote signed by another key, PCR values that
// do not match the signed digest, a measurement that is not the reference).
import { createHash, randomBytes, timingSafeEqual, verify as verifySignature, X509Certificate, type KeyObject } from '../../crypto.js';
import type { AttestationEvidence, KeyCertification } from './attestor.js';
import { makeCredential } from './credential.js';
import type { TpmIdentity } from './identity.js';
import { MEASUREMENT_PCR, replayEvents, type MeasurementEvent } from './measure.js';
import { AK_ATTRIBUTES } from './templates.js';

/** A key generated in its TPM that can never leave it, and signs. */
const RESIDENT_SIGNING_KEY = OBJECT.fixedTPM | OBJECT.fixedParent | OBJECT.sensitiveDataOrigin | OBJECT.sign;
import { ALG, OBJECT, objectName, readCertifyInfo, readPublicArea, readQuoteInfo, readSignature, type QuoteInfo } from './wire.js';

export type AttestationFailure =
  | 'malformed'
  | 'ek_certificate_invalid'
  | 'ak_invalid'
  | 'activation_failed'
  | 'wrong_key'
  | 'signature_invalid'
  | 'nonce_mismatch'
  | 'nonce_unknown'
  | 'nonce_replayed'
  | 'pcr_selection_mismatch'
  | 'pcr_digest_mismatch'
  | 'event_log_mismatch'
  | 'policy_mismatch'
  /** The key the peer is known by (its mesh peer key) is not a key the attested TPM certified. */
  | 'key_not_bound';

export class AttestationRefused extends Error {
  override readonly name = 'AttestationRefused';
  constructor(
    readonly reason: AttestationFailure,
    message: string,
  ) {
    super(message);
  }
}

/** What a verifier accepts: PCR values it expects, and the code and config digests it trusts. Unset parts are not checked. */
export interface ReferencePolicy {
  pcrs?: Readonly<Record<string, string>>;
  code?: readonly string[];
  config?: readonly string[];
}

export interface RegisteredAk {
  name: Buffer;
  key: KeyObject;
}

export interface VerifierOptions {
  /** The PCRs a quote must cover (MEASUREMENT_PCR is always added). */
  pcrs: readonly number[];
  policy: ReferencePolicy;
  /** CA certificates an EK certificate must be signed by; empty: the certificate is only matched to the EK. */
  ekCas?: readonly X509Certificate[];
  /** How long an issued nonce may be answered, ms (default 60 s). */
  nonceTtlMs?: number;
  now?: () => number;
}

const refuse = (reason: AttestationFailure, message: string): never => {
  throw new AttestationRefused(reason, message);
};

const same = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

export class Verifier {
  /** Issued nonces not yet answered, hex -> expiry. */
  private readonly issued = new Map<string, number>();
  /** Answered nonces, hex -> expiry: a second answer is a replay, not an unknown nonce. */
  private readonly used = new Map<string, number>();
  private readonly pcrs: readonly number[];
  private readonly now: () => number;

  constructor(private readonly options: VerifierOptions) {
    this.pcrs = [...new Set([...options.pcrs, MEASUREMENT_PCR])].sort((a, b) => a - b);
    this.now = options.now ?? Date.now;
  }

  /** A fresh 32-byte nonce, valid for one quote within nonceTtlMs. */
  issueNonce(): Buffer {
    this.expire();
    const nonce = randomBytes(32);
    this.issued.set(nonce.toString('hex'), this.now() + (this.options.nonceTtlMs ?? 60_000));
    return nonce;
  }

  /**
   * Registers a node's AK: checks its EK certificate against the EK (and the CAs),
   * the AK's attributes, and that the AK is in the EK's TPM (`activate` sends the
   * challenge to the node and returns its answer).
   */
  async register(identity: TpmIdentity, activate: (blob: Buffer, encryptedSecret: Buffer) => Promise<Buffer>): Promise<RegisteredAk> {
    const ekPublic = Buffer.from(identity.ekPublic, 'hex');
    const akPublic = Buffer.from(identity.akPublic, 'hex');
    this.checkEkCertificate(identity, ekPublic);
    const ak = this.parseAk(akPublic);
    const credential = randomBytes(32);
    const challenge = makeCredential(ekPublic, ak.name, credential);
    let answer: Buffer;
    try {
      answer = await activate(challenge.blob, challenge.encryptedSecret);
    } catch (err) {
      return refuse('activation_failed', `the node could not activate the credential: ${(err as Error).message}`);
    }
    if (!same(answer, credential)) refuse('activation_failed', 'the node answered the credential challenge wrongly: its AK is not in the TPM of that EK');
    return ak;
  }

  private checkEkCertificate(identity: TpmIdentity, ekPublic: Buffer): void {
    const ek = readPublicArea(ekPublic);
    if (identity.ekCertificate === null) {
      if ((this.options.ekCas ?? []).length > 0) refuse('ek_certificate_invalid', 'the node has no EK certificate, and EK CAs are configured');
      return;
    }
    const cert = new X509Certificate(identity.ekCertificate);
    if (!cert.publicKey.equals(ek.key)) refuse('ek_certificate_invalid', 'the EK certificate is for another key than the EK');
    const cas = this.options.ekCas ?? [];
    if (cas.length > 0 && !cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
      refuse('ek_certificate_invalid', 'the EK certificate is not signed by a configured EK CA');
    }
  }

  private parseAk(akPublic: Buffer): RegisteredAk {
    const area = readPublicArea(akPublic);
    if ((area.attributes & AK_ATTRIBUTES) !== AK_ATTRIBUTES) refuse('ak_invalid', 'the AK is not a restricted signing key fixed to its TPM');
    return { name: objectName(akPublic), key: area.key };
  }

  /** Checks a quote answering `nonce` from the node whose AK is `ak`; throws AttestationRefused. */
  verify(ak: RegisteredAk, nonce: Buffer, evidence: AttestationEvidence): QuoteInfo {
    if (evidence.akName !== ak.name.toString('hex')) refuse('wrong_key', `the quote names AK ${evidence.akName}, not the registered ${ak.name.toString('hex')}`);
    const attest = Buffer.from(evidence.attest, 'base64');
    const info = this.parse(attest);
    this.checkSignature(ak, attest, Buffer.from(evidence.signature, 'base64'), 'quote');
    if (!same(info.extraData, nonce)) refuse('nonce_mismatch', 'the quote was made for another nonce');
    this.consumeNonce(nonce);
    this.checkPcrs(info, evidence.pcrs);
    this.checkEvents(evidence.pcrs, evidence.eventLog);
    return info;
  }

  /**
   * Checks that the registered AK certified (TPM2_Certify, for `nonce`) a key
   * that never leaves its TPM and is `expected`: the key the peer is known by.
   * Answers from a node that relays the questions to another TPM fail here.
   */
  verifyKeyCertification(ak: RegisteredAk, nonce: Buffer, certification: KeyCertification, expected: KeyObject): void {
    const attest = Buffer.from(certification.attest, 'base64');
    const keyPublic = Buffer.from(certification.keyPublic, 'hex');
    let info: ReturnType<typeof readCertifyInfo>;
    let area: ReturnType<typeof readPublicArea>;
    try {
      info = readCertifyInfo(attest);
      area = readPublicArea(keyPublic);
    } catch (err) {
      return refuse('malformed', `the key certification cannot be read: ${(err as Error).message}`);
    }
    this.checkSignature(ak, attest, Buffer.from(certification.signature, 'base64'), 'key certification');
    if (!same(info.extraData, nonce)) refuse('nonce_mismatch', 'the key certification was made for another nonce');
    this.consumeNonce(nonce);
    if (!same(info.name, objectName(keyPublic))) refuse('key_not_bound', 'the TPM certified another key than the one sent along');
    if ((area.attributes & RESIDENT_SIGNING_KEY) !== RESIDENT_SIGNING_KEY) refuse('key_not_bound', 'the certified key was not made in its TPM, or may leave it');
    if (!area.key.equals(expected)) refuse('key_not_bound', "the TPM that quoted holds another key than the peer's: the answers come from another node");
  }

  private parse(attest: Buffer): QuoteInfo {
    try {
      return readQuoteInfo(attest);
    } catch (err) {
      return refuse('malformed', `the quote cannot be read: ${(err as Error).message}`);
    }
  }

  private checkSignature(ak: RegisteredAk, attest: Buffer, signature: Buffer, what: string): void {
    let sig: ReturnType<typeof readSignature>;
    try {
      sig = readSignature(signature);
    } catch (err) {
      return refuse('malformed', `the signature cannot be read: ${(err as Error).message}`);
    }
    const ecdsa = sig.alg === ALG.ECDSA;
    const ok = sig.hash === ALG.SHA256 && verifySignature('sha256', attest, ecdsa ? { key: ak.key, dsaEncoding: 'ieee-p1363' } : ak.key, sig.signature);
    if (!ok) refuse('signature_invalid', `the ${what} is not signed by the registered AK`);
  }

  private consumeNonce(nonce: Buffer): void {
    this.expire();
    const hex = nonce.toString('hex');
    if (this.used.has(hex)) refuse('nonce_replayed', 'this nonce was answered before: the quote is a replay');
    const expiry = this.issued.get(hex);
    if (expiry === undefined) refuse('nonce_unknown', 'this verifier did not issue the nonce, or it expired');
    this.issued.delete(hex);
    this.used.set(hex, expiry!);
  }

  private checkPcrs(info: QuoteInfo, values: Readonly<Record<string, string>>): void {
    const quoted = info.pcrSelection.filter((b) => b.hash === ALG.SHA256).flatMap((b) => b.pcrs);
    if (quoted.join(',') !== this.pcrs.join(',')) refuse('pcr_selection_mismatch', `the quote covers PCRs ${quoted.join(',')}, not ${this.pcrs.join(',')}`);
    const hash = createHash('sha256');
    for (const pcr of this.pcrs) {
      const value = values[String(pcr)];
      if (value === undefined || !/^[0-9a-f]{64}$/.test(value)) return refuse('malformed', `PCR ${pcr} is missing from the evidence`);
      hash.update(Buffer.from(value, 'hex'));
    }
    if (!same(hash.digest(), info.pcrDigest)) refuse('pcr_digest_mismatch', 'the PCR values sent do not match the digest the TPM signed');
    for (const [pcr, expected] of Object.entries(this.options.policy.pcrs ?? {})) {
      if (values[pcr] !== expected.toLowerCase()) refuse('policy_mismatch', `PCR ${pcr} is ${values[pcr]}, the reference policy expects ${expected}`);
    }
  }

  private checkEvents(values: Readonly<Record<string, string>>, events: readonly MeasurementEvent[]): void {
    const replayed = replayEvents(events, MEASUREMENT_PCR).toString('hex');
    if (replayed !== values[String(MEASUREMENT_PCR)]) refuse('event_log_mismatch', `the event log does not replay to PCR ${MEASUREMENT_PCR}`);
    const { code, config } = this.options.policy;
    for (const e of events) {
      const allowed = e.what === 'code' ? code : config;
      if (allowed && !allowed.includes(e.digest)) refuse('policy_mismatch', `the gateway's ${e.what} digest ${e.digest} is not in the reference policy`);
    }
  }

  private expire(): void {
    const now = this.now();
    for (const map of [this.issued, this.used]) for (const [nonce, expiry] of map) if (expiry <= now) map.delete(nonce);
  }
}
