// The node's TPM identity: the endorsement key (EK) the manufacturer
// certified, and the attestation key (AK) the gateway creates once under the
// endorsement hierarchy and persists. Neither private key ever leaves the TPM.
import { X509Certificate } from '../../crypto.js';
import { TpmError } from './errors.js';
import { TR, type Tpm } from './esys.js';
import { AK_ATTRIBUTES, AK_HANDLE, akTemplate, EK_CERT_INDEX, EK_HANDLE, ekTemplate, emptySensitive } from './templates.js';
import { objectName, readPublicArea, unwrap2b } from './wire.js';

/**
 * A key the TPM holds: its ESYS_TR and TPMT_PUBLIC; `transient` ones are flushed after use.
 * ESAPI hands out one ESYS_TR per handle and context: load a persistent key once and pass it on.
 */
export interface LoadedKey {
  tr: number;
  tpmtPublic: Buffer;
  transient: boolean;
}

/** What `mcp-edge tpm identity` prints and a verifier registers. */
export interface TpmIdentity {
  /** TPMT_PUBLIC of the AK, hex. */
  akPublic: string;
  /** TPM name of the AK (0x000b + SHA-256 of akPublic), hex. */
  akName: string;
  akPem: string;
  /** TPMT_PUBLIC of the EK, hex: what a verifier encrypts a credential to. */
  ekPublic: string;
  ekPem: string;
  /** The EK certificate from NV (PEM), or null when the TPM has none. */
  ekCertificate: string | null;
}

/** The EK: the persisted one when there is one, otherwise created (deterministically) from the TCG template. */
export async function loadEk(tpm: Tpm): Promise<LoadedKey> {
  const persisted = await tpm.fromTpmPublic(EK_HANDLE);
  if (persisted !== undefined) return { tr: persisted, tpmtPublic: unwrap2b(await tpm.readPublic(persisted)), transient: false };
  const { tr, publicArea } = await tpm.createPrimary(TR.RH_ENDORSEMENT, ekTemplate(), emptySensitive());
  return { tr, tpmtPublic: unwrap2b(publicArea), transient: true };
}

/** A key the gateway keeps at a persistent handle of its own (the AK, the mesh key). */
export interface PersistentKeySpec {
  handle: number;
  /** The hierarchy it is made under (TR.RH_ENDORSEMENT, TR.RH_OWNER). */
  hierarchy: number;
  template: Buffer;
  /** Whether a key found at `handle` is one of ours (and not another program's). */
  isOurs: (tpmtPublic: Buffer) => boolean;
  /** What to tell the operator when it is not: how to free the handle, or what to do instead. */
  foreign: string;
}

/**
 * The key at `spec.handle`, created as a primary key and persisted on first use
 * (the transient object is flushed once persisted). A foreign key there is
 * refused, not replaced: it may be another program's.
 */
export async function loadPersistentKey(tpm: Tpm, spec: PersistentKeySpec): Promise<LoadedKey> {
  const persisted = await tpm.fromTpmPublic(spec.handle);
  if (persisted !== undefined) {
    const tpmtPublic = unwrap2b(await tpm.readPublic(persisted));
    if (!spec.isOurs(tpmtPublic)) {
      await tpm.closeTr(persisted);
      throw new TpmError('tpm_state_unexpected', spec.foreign);
    }
    return { tr: persisted, tpmtPublic, transient: false };
  }
  const created = await tpm.createPrimary(spec.hierarchy, spec.template, emptySensitive());
  try {
    const tr = await tpm.persist(created.tr, spec.handle);
    return { tr, tpmtPublic: unwrap2b(created.publicArea), transient: false };
  } finally {
    await tpm.flush(created.tr);
  }
}

/** The AK at AK_HANDLE, created and persisted on first use. A foreign key there is refused, not replaced. */
export function loadAk(tpm: Tpm): Promise<LoadedKey> {
  const hex = `0x${AK_HANDLE.toString(16)}`;
  return loadPersistentKey(tpm, {
    handle: AK_HANDLE,
    hierarchy: TR.RH_ENDORSEMENT,
    template: akTemplate(),
    isOurs: (tpmtPublic) => readPublicArea(tpmtPublic).attributes === AK_ATTRIBUTES,
    foreign: `persistent handle ${hex} holds a key that is not an attestation key; free it (tpm2_evictcontrol -c ${hex}) or use another TPM`,
  });
}

/** Releases what loadEk/loadAk returned: flushes a transient key, forgets a persistent one's ESYS_TR. */
export async function release(tpm: Tpm, key: LoadedKey): Promise<void> {
  if (key.transient) await tpm.flush(key.tr);
  else await tpm.closeTr(key.tr);
}

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

/** The RSA EK certificate from NV, as PEM; null when there is none. */
export async function readEkCertificate(tpm: Tpm): Promise<string | null> {
  const der = await tpm.readNv(EK_CERT_INDEX);
  if (!der || der.length === 0) return null;
  const pem = toPem(der);
  new X509Certificate(pem); // an index that does not hold a certificate is an error here, not at the verifier
  return pem;
}

/** The identity of the node whose AK is `ak` (from loadAk). */
export async function exportIdentity(tpm: Tpm, ak: LoadedKey): Promise<TpmIdentity> {
  const ek = await loadEk(tpm);
  try {
    const pem = (t: Buffer): string => readPublicArea(t).key.export({ type: 'spki', format: 'pem' }).toString();
    return {
      akPublic: ak.tpmtPublic.toString('hex'),
      akName: objectName(ak.tpmtPublic).toString('hex'),
      akPem: pem(ak.tpmtPublic),
      ekPublic: ek.tpmtPublic.toString('hex'),
      ekPem: pem(ek.tpmtPublic),
      ekCertificate: await readEkCertificate(tpm),
    };
  } finally {
    await release(tpm, ek);
  }
}

/** Prover side of credential activation: the secret a verifier wrapped for (this EK, the AK `ak`). */
export async function activateCredential(tpm: Tpm, ak: LoadedKey, blob: Buffer, encryptedSecret: Buffer): Promise<Buffer> {
  const ek = await loadEk(tpm);
  try {
    return await tpm.activateCredential(ak.tr, ek.tr, blob, encryptedSecret);
  } finally {
    await release(tpm, ek);
  }
}
