// The key templates the gateway asks the TPM for.
import { ALG, ECC_NIST_P256, OBJECT, tpm2b, u16, u32 } from './wire.js';

/** TCG EK Credential Profile, template L-1 (RSA 2048): the EK its certificate was issued for. */
const EK_POLICY = Buffer.from('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'hex');

/** Where the EK lives when the manufacturer (or swtpm_setup) persisted it. */
export const EK_HANDLE = 0x81010001;
/** Where the gateway persists its AK (the endorsement range, next to the EK). */
export const AK_HANDLE = 0x81010002;
/** NV index of the RSA 2048 EK certificate. */
export const EK_CERT_INDEX = 0x01c00002;

/** TPM2B_PUBLIC of the RSA EK (restricted decryption key, authorized by the endorsement hierarchy's policy). */
export function ekTemplate(): Buffer {
  const attributes =
    OBJECT.fixedTPM | OBJECT.fixedParent | OBJECT.sensitiveDataOrigin | OBJECT.adminWithPolicy | OBJECT.restricted | OBJECT.decrypt;
  const area = Buffer.concat([
    u16(ALG.RSA), u16(ALG.SHA256), u32(attributes), tpm2b(EK_POLICY),
    u16(ALG.AES), u16(128), u16(ALG.CFB), // symmetric
    u16(ALG.NULL), // scheme
    u16(2048), u32(0), // keyBits, exponent (default)
    tpm2b(Buffer.alloc(256)), // unique
  ]);
  return tpm2b(area);
}

/** The AK's object attributes: a restricted signing key that never leaves this TPM. */
export const AK_ATTRIBUTES =
  OBJECT.fixedTPM | OBJECT.fixedParent | OBJECT.sensitiveDataOrigin | OBJECT.userWithAuth | OBJECT.restricted | OBJECT.sign;

/** TPM2B_PUBLIC of the AK: ECC P-256, ECDSA with SHA-256 (fast to create, small quotes). */
export function akTemplate(): Buffer {
  const area = Buffer.concat([
    u16(ALG.ECC), u16(ALG.SHA256), u32(AK_ATTRIBUTES), u16(0),
    u16(ALG.NULL), // symmetric
    u16(ALG.ECDSA), u16(ALG.SHA256), // scheme
    u16(ECC_NIST_P256), u16(ALG.NULL), // curve, kdf
    u16(0), u16(0), // unique x, y
  ]);
  return tpm2b(area);
}

/** Where the gateway persists its mesh identity key (the owner's range: the operator's hierarchy, not the manufacturer's). */
export const MESH_KEY_HANDLE = 0x81000100;

/**
 * The mesh key's attributes: an unrestricted signing key (it signs libp2p's
 * handshakes and records, not TPM-made data) that never leaves this TPM. noDA:
 * it has no auth value to guess, so failed uses must not lock the TPM out.
 */
export const MESH_KEY_ATTRIBUTES =
  OBJECT.fixedTPM | OBJECT.fixedParent | OBJECT.sensitiveDataOrigin | OBJECT.userWithAuth | OBJECT.noDA | OBJECT.sign;

/**
 * TPM2B_PUBLIC of the mesh key: RSA 2048, RSASSA-PKCS1-v1_5 with SHA-256.
 * Not ECDSA P-256: js-libp2p (@libp2p/peer-id 6) makes no peer id of an ECDSA
 * key, on this node or on the peer that checks its handshake. libp2p peers
 * verify RSA, and the discrete TPMs (PC Client profile) and swtpm all sign with it.
 */
export function meshKeyTemplate(): Buffer {
  const area = Buffer.concat([
    u16(ALG.RSA), u16(ALG.SHA256), u32(MESH_KEY_ATTRIBUTES), u16(0),
    u16(ALG.NULL), // symmetric
    u16(ALG.RSASSA), u16(ALG.SHA256), // scheme
    u16(2048), u32(0), // keyBits, exponent (65537)
    u16(0), // unique: the hierarchy's seed alone decides the key
  ]);
  return tpm2b(area);
}

/** TPM2B_SENSITIVE_CREATE with no auth value and no data. */
export function emptySensitive(): Buffer {
  return tpm2b(Buffer.concat([u16(0), u16(0)]));
}
