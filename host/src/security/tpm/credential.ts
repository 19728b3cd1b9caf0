// Verifier side of credential activation (TPM 2.0 Part 1, "Protected
// Storage" and "Credential Protection"), in software: the verifier needs no
// TPM. A secret is wrapped so that only the TPM holding this EK can unwrap it,
// and only for a key with this AK's name. If the node answers with the
// secret, the AK lives in the same TPM as the certified EK.
import { createCipheriv, createHmac, publicEncrypt, randomBytes, constants } from '../../crypto.js';
import { ALG, readPublicArea, tpm2b, u32 } from './wire.js';

/** KDFa with SHA-256 (Part 1, 11.4.10.2): `bits` of key material from `key`, a label and two contexts. */
export function kdfa(key: Buffer, label: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const out: Buffer[] = [];
  const labelBytes = Buffer.concat([Buffer.from(label, 'ascii'), Buffer.from([0])]);
  for (let counter = 1, have = 0; have * 8 < bits; counter++, have += 32) {
    out.push(createHmac('sha256', key).update(Buffer.concat([u32(counter), labelBytes, contextU, contextV, u32(bits)])).digest());
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}

export interface WrappedCredential {
  /** TPM2B_ID_OBJECT contents: integrity HMAC and encrypted credential. */
  blob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET contents: the seed, RSA-OAEP encrypted to the EK. */
  encryptedSecret: Buffer;
}

/** MakeCredential for an RSA EK (AES-128-CFB, SHA-256 name algorithm, as in the TCG EK template). */
export function makeCredential(ekTpmtPublic: Buffer, akName: Buffer, credential: Buffer): WrappedCredential {
  const ek = readPublicArea(ekTpmtPublic);
  if (ek.type !== ALG.RSA) throw new RangeError('the EK is not an RSA key; only the RSA EK (template L-1) is supported');
  const seed = randomBytes(32);
  const encryptedSecret = publicEncrypt(
    { key: ek.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from('IDENTITY\0', 'ascii') },
    seed,
  );
  const symKey = kdfa(seed, 'STORAGE', akName, Buffer.alloc(0), 128);
  const cipher = createCipheriv('aes-128-cfb', symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(tpm2b(credential)), cipher.final()]);
  const hmacKey = kdfa(seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256);
  const outerHmac = createHmac('sha256', hmacKey).update(Buffer.concat([encIdentity, akName])).digest();
  return { blob: Buffer.concat([tpm2b(outerHmac), encIdentity]), encryptedSecret };
}
