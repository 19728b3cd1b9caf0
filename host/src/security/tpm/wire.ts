// TPM 2.0 structures in their wire format (TPM 2.0 Part 2: big-endian, sizes
// before contents). The gateway builds its inputs and reads the TPM's outputs
// here; libtss2-mu only converts between these bytes and the C structures.
import { createHash, createPublicKey, type KeyObject } from '../../crypto.js';

export const ALG = { RSA: 0x0001, SHA256: 0x000b, AES: 0x0006, NULL: 0x0010, RSASSA: 0x0014, ECDSA: 0x0018, ECC: 0x0023, CFB: 0x0043 } as const;
export const ECC_NIST_P256 = 0x0003;
export const TPM_GENERATED = 0xff544347;
export const ST_ATTEST_QUOTE = 0x8018;
export const ST_ATTEST_CERTIFY = 0x8017;

/** TPMA_OBJECT bits the gateway sets and checks. */
export const OBJECT = {
  fixedTPM: 0x2,
  fixedParent: 0x10,
  sensitiveDataOrigin: 0x20,
  userWithAuth: 0x40,
  adminWithPolicy: 0x80,
  noDA: 0x400,
  restricted: 0x10000,
  decrypt: 0x20000,
  sign: 0x40000,
} as const;

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A TPM2B: a 16-bit size, then the bytes. */
export function tpm2b(bytes: Uint8Array): Buffer {
  return Buffer.concat([u16(bytes.length), bytes]);
}

/** TPML_PCR_SELECTION of SHA-256 PCRs (a 3-byte bitmap: PCRs 0..23). */
export function pcrSelection(pcrs: readonly number[]): Buffer {
  const bitmap = Buffer.alloc(3);
  for (const pcr of pcrs) bitmap[pcr >> 3]! |= 1 << (pcr & 7);
  return Buffer.concat([u32(1), u16(ALG.SHA256), Buffer.from([3]), bitmap]);
}

/** Reads a wire structure front to back; running past the end is a RangeError. */
export class Reader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}
  u8(): number {
    return this.bytes.readUInt8(this.advance(1));
  }
  u16(): number {
    return this.bytes.readUInt16BE(this.advance(2));
  }
  u32(): number {
    return this.bytes.readUInt32BE(this.advance(4));
  }
  u64(): bigint {
    return this.bytes.readBigUInt64BE(this.advance(8));
  }
  take(n: number): Buffer {
    const start = this.advance(n);
    return this.bytes.subarray(start, start + n);
  }
  tpm2b(): Buffer {
    return this.take(this.u16());
  }
  get done(): boolean {
    return this.at === this.bytes.length;
  }
  private advance(n: number): number {
    if (this.at + n > this.bytes.length) throw new RangeError(`structure ends after ${this.bytes.length} bytes; ${this.at + n} needed`);
    const start = this.at;
    this.at += n;
    return start;
  }
}

/** A TPML_PCR_SELECTION as SHA-256 PCR numbers (other banks are reported by their algorithm). */
export function readPcrSelection(r: Reader): { hash: number; pcrs: number[] }[] {
  const count = r.u32();
  const banks: { hash: number; pcrs: number[] }[] = [];
  for (let i = 0; i < count; i++) {
    const hash = r.u16();
    const bitmap = r.take(r.u8());
    const pcrs: number[] = [];
    bitmap.forEach((byte, index) => {
      for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) pcrs.push(index * 8 + bit);
    });
    banks.push({ hash, pcrs });
  }
  return banks;
}

/** TPML_DIGEST -> its digests. */
export function readDigestList(bytes: Buffer): Buffer[] {
  const r = new Reader(bytes);
  const count = r.u32();
  return Array.from({ length: count }, () => r.tpm2b());
}

export interface PublicArea {
  type: number;
  nameAlg: number;
  attributes: number;
  authPolicy: Buffer;
  /** The signing scheme (ECDSA, RSASSA) or ALG.NULL. */
  scheme: number;
  key: KeyObject;
}

function readSymmetric(r: Reader): void {
  if (r.u16() !== ALG.NULL) r.take(4); // keyBits + mode
}

function readScheme(r: Reader): number {
  const scheme = r.u16();
  if (scheme !== ALG.NULL) r.u16(); // its hash
  return scheme;
}

function jwkInt(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** TPMT_PUBLIC (RSA or ECC P-256) with its public key as a KeyObject. */
export function readPublicArea(tpmtPublic: Buffer): PublicArea {
  const r = new Reader(tpmtPublic);
  const type = r.u16();
  const nameAlg = r.u16();
  const attributes = r.u32();
  const authPolicy = r.tpm2b();
  readSymmetric(r);
  const scheme = readScheme(r);
  if (type === ALG.ECC) {
    const curve = r.u16();
    readScheme(r); // kdf
    if (curve !== ECC_NIST_P256) throw new RangeError(`ECC curve 0x${curve.toString(16)} is not NIST P-256`);
    const x = r.tpm2b();
    const y = r.tpm2b();
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwkInt(x), y: jwkInt(y) }, format: 'jwk' });
    return { type, nameAlg, attributes, authPolicy, scheme, key };
  }
  if (type === ALG.RSA) {
    r.u16(); // keyBits: the modulus says it
    const exponent = r.u32() || 65_537;
    const n = r.tpm2b();
    const e = Buffer.from(exponent.toString(16).padStart(6, '0'), 'hex');
    const key = createPublicKey({ key: { kty: 'RSA', n: jwkInt(n), e: jwkInt(e) }, format: 'jwk' });
    return { type, nameAlg, attributes, authPolicy, scheme, key };
  }
  throw new RangeError(`key type 0x${type.toString(16)} is neither RSA nor ECC`);
}

/** The TPM name of an object: its name algorithm, then the digest of its TPMT_PUBLIC. */
export function objectName(tpmtPublic: Buffer): Buffer {
  return Buffer.concat([u16(ALG.SHA256), createHash('sha256').update(tpmtPublic).digest()]);
}

/** TPM2B_PUBLIC -> the TPMT_PUBLIC inside. */
export function unwrap2b(bytes: Buffer): Buffer {
  return new Reader(bytes).tpm2b();
}

export interface QuoteInfo {
  qualifiedSigner: Buffer;
  /** The verifier's nonce, as the TPM signed it. */
  extraData: Buffer;
  resetCount: number;
  restartCount: number;
  pcrSelection: { hash: number; pcrs: number[] }[];
  pcrDigest: Buffer;
}

/** The header every TPMS_ATTEST starts with, up to its type-specific part; another magic or type is a RangeError. */
function readAttestHeader(r: Reader, type: number, what: string): { qualifiedSigner: Buffer; extraData: Buffer; resetCount: number; restartCount: number } {
  if (r.u32() !== TPM_GENERATED) throw new RangeError('not produced by a TPM (magic is not TPM_GENERATED_VALUE)');
  if (r.u16() !== type) throw new RangeError(`not ${what}`);
  const qualifiedSigner = r.tpm2b();
  const extraData = r.tpm2b();
  r.u64(); // clock
  const resetCount = r.u32();
  const restartCount = r.u32();
  r.u8(); // safe
  r.u64(); // firmwareVersion
  return { qualifiedSigner, extraData, resetCount, restartCount };
}

/** TPMS_ATTEST of a quote. Anything else (another magic or type) is a RangeError. */
export function readQuoteInfo(attest: Buffer): QuoteInfo {
  const r = new Reader(attest);
  const header = readAttestHeader(r, ST_ATTEST_QUOTE, 'a quote (type is not TPM_ST_ATTEST_QUOTE)');
  const pcrSelection = readPcrSelection(r);
  const pcrDigest = r.tpm2b();
  return { ...header, pcrSelection, pcrDigest };
}

/** TPMS_ATTEST of TPM2_Certify: the certified object's name. Anything else is a RangeError. */
export function readCertifyInfo(attest: Buffer): { extraData: Buffer; name: Buffer } {
  const r = new Reader(attest);
  const { extraData } = readAttestHeader(r, ST_ATTEST_CERTIFY, 'a certification (type is not TPM_ST_ATTEST_CERTIFY)');
  return { extraData, name: r.tpm2b() };
}

/** TPMT_SIGNATURE (ECDSA or RSASSA over SHA-256) -> what node:crypto verifies. */
export function readSignature(bytes: Buffer): { alg: number; hash: number; signature: Buffer } {
  const r = new Reader(bytes);
  const alg = r.u16();
  const hash = r.u16();
  if (alg === ALG.ECDSA) {
    const rPart = r.tpm2b();
    const sPart = r.tpm2b();
    const pad = (b: Buffer): Buffer => Buffer.concat([Buffer.alloc(Math.max(0, 32 - b.length)), b]);
    return { alg, hash, signature: Buffer.concat([pad(rPart), pad(sPart)]) };
  }
  if (alg === ALG.RSASSA) return { alg, hash, signature: r.tpm2b() };
  throw new RangeError(`signature algorithm 0x${alg.toString(16)} is neither ECDSA nor RSASSA`);
}
