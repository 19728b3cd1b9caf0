// A libp2p private key whose private part is in the TPM: libp2p's RSA key
// interface, with sign() hashing the data here and asking the TPM for the
// signature (TPM2_Sign). Its public key is an ordinary libp2p RSA public key,
// so its peer id is the usual one and every peer verifies its handshakes,
// peer records and gossip with stock libp2p code.
import { createHash } from '../../crypto.js';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { AbortOptions, RSAPrivateKey, RSAPublicKey } from '@libp2p/interface';
import { TpmError } from './errors.js';

/** Signs a SHA-256 digest with the TPM-resident key: RSASSA-PKCS1-v1_5 signature bytes. */
export type DigestSigner = (digest: Buffer) => Promise<Buffer>;

type SignInput = Parameters<RSAPrivateKey['sign']>[0];

export class TpmRsaPrivateKey implements RSAPrivateKey {
  readonly type = 'RSA';
  readonly publicKey: RSAPublicKey;

  /** `spkiDer`: the TPM key's public key (SubjectPublicKeyInfo DER); `signDigest`: the TPM's signature of a digest. */
  constructor(
    spkiDer: Uint8Array,
    private readonly signDigest: DigestSigner,
  ) {
    const key = publicKeyFromRaw(spkiDer);
    if (key.type !== 'RSA') throw new TpmError('tpm_state_unexpected', `the TPM's mesh key is a ${key.type} key, not RSA`);
    this.publicKey = key;
  }

  // libp2p reads a private key's bytes only to store it (keychain, protobuf export); mcp-edge does neither with this key.
  get raw(): Uint8Array {
    throw new TpmError('tpm_key_resident', 'the mesh identity key lives in the TPM; its private part cannot be read or exported');
  }

  get jwk(): JsonWebKey {
    return this.raw as never;
  }

  /** The same key: another handle on the same TPM key (same public key). */
  equals(key?: unknown): boolean {
    return key instanceof TpmRsaPrivateKey && this.publicKey.equals(key.publicKey);
  }

  async sign(data: SignInput, options?: AbortOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted();
    const digest = createHash('sha256').update(data.subarray()).digest();
    const signature = await this.signDigest(digest);
    options?.signal?.throwIfAborted();
    return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
  }
}
