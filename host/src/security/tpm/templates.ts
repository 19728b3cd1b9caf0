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

/** TPM2B_SENSITIVE_CREATE with no auth value and no data. */
export function emptySensitive(): Buffer {
  return tpm2b(Buffer.concat([u16(0), u16(0)]));
}
