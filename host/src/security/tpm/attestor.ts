// The node side of attestation: measures the gateway into its PCR at start,
// then answers quotes (over the configured PCRs and the measurement PCR, with
// the verifier's nonce), identity requests and credential-activation
// challenges. The AK's ESYS_TR (a persistent key: no TPM slot) stays open;
// every transient object and session is flushed after its command.
import { TpmError } from './errors.js';
import type { Tpm } from './esys.js';
import { activateCredential, exportIdentity, loadAk, release, type LoadedKey, type TpmIdentity } from './identity.js';
import { MEASUREMENT_PCR, measurementEvents, type MeasurementEvent } from './measure.js';
import { loadMeshKey, meshPublicKeyDer, signWithMeshKey } from './mesh-key.js';
import { objectName } from './wire.js';

/** What a quote answer carries: everything a verifier needs besides the AK it registered. */
export interface AttestationEvidence {
  /** Name of the AK that signed, hex (the verifier looks up its registered key by it). */
  akName: string;
  /** TPMS_ATTEST, base64: what the TPM signed. */
  attest: string;
  /** TPMT_SIGNATURE, base64. */
  signature: string;
  /** The quoted PCRs' SHA-256 values, hex, by PCR number. */
  pcrs: Record<string, string>;
  /** What the gateway extended into MEASUREMENT_PCR since it reset it. */
  eventLog: MeasurementEvent[];
}

/** The AK's word that a key lives in this TPM (TPM2_Certify): what binds a mesh peer's libp2p key to the TPM that quoted. */
export interface KeyCertification {
  /** TPMT_PUBLIC of the certified key, hex. */
  keyPublic: string;
  /** TPMS_ATTEST (TPM_ST_ATTEST_CERTIFY), base64. */
  attest: string;
  /** TPMT_SIGNATURE by the AK, base64. */
  signature: string;
}

/** Nonces are 16 to 64 bytes: enough to be unguessable, within TPM2B_DATA. */
export const NONCE_BYTES = { min: 16, max: 64 } as const;

function checkNonce(nonce: Buffer): void {
  if (nonce.length < NONCE_BYTES.min || nonce.length > NONCE_BYTES.max) {
    throw new RangeError(`a nonce is ${NONCE_BYTES.min} to ${NONCE_BYTES.max} bytes; this one has ${nonce.length}`);
  }
}

export class Attestor {
  /** The mesh identity key's ESYS_TR, loaded on first use (a persistent key: no TPM slot held). */
  private meshKey: Promise<LoadedKey> | undefined;

  private constructor(
    private readonly tpm: Tpm,
    private readonly ak: LoadedKey,
    /** The configured PCRs plus MEASUREMENT_PCR, ascending. */
    readonly pcrs: readonly number[],
    readonly eventLog: readonly MeasurementEvent[],
  ) {}

  /** Loads (or creates) the AK, resets MEASUREMENT_PCR and extends it with the code and config digests. */
  static async start(tpm: Tpm, options: { pcrs: readonly number[]; code: Buffer; config: Buffer }): Promise<Attestor> {
    const ak = await loadAk(tpm);
    try {
      const events = measurementEvents(options.code, options.config);
      await tpm.resetPcr(MEASUREMENT_PCR);
      for (const e of events) await tpm.extendPcr(e.pcr, Buffer.from(e.digest, 'hex'));
      const pcrs = [...new Set([...options.pcrs, MEASUREMENT_PCR])].sort((a, b) => a - b);
      return new Attestor(tpm, ak, pcrs, events);
    } catch (err) {
      await release(tpm, ak).catch(() => undefined);
      throw err;
    }
  }

  get akName(): string {
    return objectName(this.ak.tpmtPublic).toString('hex');
  }

  /** A quote with `nonce` as qualifying data, and the PCR values and event log it covers. */
  async quote(nonce: Buffer): Promise<AttestationEvidence> {
    checkNonce(nonce);
    // PCRs read after the quote could have moved in between; the verifier's digest check catches that.
    const { attest, signature } = await this.tpm.quote(this.ak.tr, nonce, this.pcrs);
    const values = await this.tpm.readPcrs(this.pcrs);
    return {
      akName: this.akName,
      attest: attest.toString('base64'),
      signature: signature.toString('base64'),
      pcrs: Object.fromEntries([...values].map(([pcr, v]) => [String(pcr), v.toString('hex')])),
      eventLog: [...this.eventLog],
    };
  }

  identity(): Promise<TpmIdentity> {
    return exportIdentity(this.tpm, this.ak);
  }

  /** Answers a verifier's credential challenge (MakeCredential output) with the secret inside. */
  activate(blob: Buffer, encryptedSecret: Buffer): Promise<Buffer> {
    return activateCredential(this.tpm, this.ak, blob, encryptedSecret);
  }

  /** The mesh identity key's public key (SPKI DER); the key is created and persisted on first use. */
  async meshPublicKey(): Promise<Buffer> {
    return meshPublicKeyDer(await this.loadMeshKey());
  }

  /** The mesh identity key's RSASSA signature of a SHA-256 digest. */
  async meshSign(digest: Buffer): Promise<Buffer> {
    return signWithMeshKey(this.tpm, await this.loadMeshKey(), digest);
  }

  /** The AK's certification of the mesh identity key, with `nonce` as qualifying data. */
  async certifyMeshKey(nonce: Buffer): Promise<KeyCertification> {
    checkNonce(nonce);
    const key = await this.loadMeshKey();
    const { attest, signature } = await this.tpm.certify(key.tr, this.ak.tr, nonce);
    return { keyPublic: key.tpmtPublic.toString('hex'), attest: attest.toString('base64'), signature: signature.toString('base64') };
  }

  private loadMeshKey(): Promise<LoadedKey> {
    const loading = (this.meshKey ??= loadMeshKey(this.tpm));
    loading.catch(() => {
      if (this.meshKey === loading) this.meshKey = undefined;
    });
    return loading;
  }

  /** Transient objects and sessions the TPM holds (0 unless something leaked). */
  openHandles(): Promise<number> {
    return this.tpm.openHandles();
  }

  async close(): Promise<void> {
    const meshKey = await this.meshKey?.catch(() => undefined);
    if (meshKey) await release(this.tpm, meshKey).catch(() => undefined);
    await release(this.tpm, this.ak).catch((err: unknown) => {
      if (!(err instanceof TpmError)) throw err;
    });
    await this.tpm.close();
  }
}
