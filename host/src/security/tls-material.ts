// The PEM files of a TLS configuration, read and checked before anything uses
// them: a certificate chain and the private key that belongs to it, and CA
// bundles. Each problem is reported with the config key that names the file
// and what to do, at start (a ConfigError) and on every reload (the old
// material stays in use). OpenSSL's own errors say far less.
import { createPrivateKey, X509Certificate, type KeyObject } from '../crypto.js';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config/load.js';

/** A PEM file as the config names it: its path and the key that set it ("security.tls_cert"). */
export interface PemFile {
  path: string;
  key: string;
}

/** A TLS file is missing, unreadable, or not what its key asks for; `message` names the key and the file, `issues` each file's. */
export class TlsFileError extends Error {
  override readonly name = 'TlsFileError';
  readonly issues: readonly string[];
  constructor(...issues: [string, ...string[]]) {
    super(issues.join('; '));
    this.issues = issues;
  }

  /** The refusal at start: each file's problem on a line of its own. */
  asConfigError(): ConfigError {
    return new ConfigError(`gateway config is invalid:${this.issues.map((issue) => `\n  - ${issue}`).join('')}`, [...this.issues]);
  }
}

/** A certificate and its key, as read from their files. */
export interface CertificateWithKey {
  /** The PEM text as read (the certificate first, then its intermediates). */
  certPem: Buffer;
  keyPem: Buffer;
  /** The first certificate of the chain: the one this side presents. */
  leaf: X509Certificate;
}

/** A CA bundle, as read. */
export interface CaBundle {
  pem: Buffer;
  certificates: X509Certificate[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

async function readPem(file: PemFile): Promise<Buffer> {
  try {
    return await readFile(file.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TlsFileError(`${file.key}: ${file.path} does not exist; point it at a PEM file.`);
    if (code === 'EACCES') throw new TlsFileError(`${file.key}: ${file.path} cannot be read by this user; give the gateway's user read access to it.`);
    throw new TlsFileError(`${file.key}: cannot read ${file.path}: ${(err as Error).message}`);
  }
}

/** Every certificate in a PEM text, in order. */
function certificatesIn(pem: Buffer, file: PemFile): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsFileError(`${file.key}: ${file.path} holds no PEM certificate ("-----BEGIN CERTIFICATE-----").`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new TlsFileError(`${file.key}: certificate ${i + 1} in ${file.path} cannot be parsed: ${(err as Error).message}`);
    }
  });
}

/** PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional PEM key with a Proc-Type ENCRYPTED header. */
const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4,ENCRYPTED/;

function privateKeyIn(pem: Buffer, file: PemFile): KeyObject {
  if (ENCRYPTED_PEM.test(pem.toString('latin1'))) {
    throw new TlsFileError(`${file.key}: the private key in ${file.path} is encrypted; mcp-edge needs it unencrypted (openssl pkey -in KEY -out KEY.plain), readable only by the gateway's user.`);
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new TlsFileError(`${file.key}: ${file.path} holds no PEM private key mcp-edge can read: ${(err as Error).message}`);
  }
}

/** Reads a certificate chain and its private key, and checks that the key belongs to the first certificate. */
export async function readCertificateWithKey(cert: PemFile, key: PemFile): Promise<CertificateWithKey> {
  // Both read before either fails: a certificate and a key that are both missing are both named.
  const [certRead, keyRead] = await Promise.allSettled([readPem(cert), readPem(key)]);
  if (certRead.status === 'rejected' || keyRead.status === 'rejected') {
    const failed = [certRead, keyRead].filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
    const notFiles = failed.find((err) => !(err instanceof TlsFileError));
    if (notFiles) throw notFiles;
    throw new TlsFileError(...(failed as TlsFileError[]).flatMap((err) => err.issues) as [string, ...string[]]);
  }
  const [certPem, keyPem] = [certRead.value, keyRead.value];
  const leaf = certificatesIn(certPem, cert)[0]!;
  const privateKey = privateKeyIn(keyPem, key);
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsFileError(`${key.key}: the private key in ${key.path} does not belong to the certificate in ${cert.path} (${cert.key}); were the files renewed one without the other?`);
  }
  return { certPem, keyPem, leaf };
}

/** Reads a CA bundle: one or more PEM certificates. */
export async function readCaBundle(file: PemFile): Promise<CaBundle> {
  const pem = await readPem(file);
  return { pem, certificates: certificatesIn(pem, file) };
}

/** Reads a certificate revocation list (PEM, one or more), checked by OpenSSL itself. */
export async function readCrl(file: PemFile): Promise<Buffer> {
  const pem = await readPem(file);
  if (!pem.toString('latin1').includes('-----BEGIN X509 CRL-----')) throw new TlsFileError(`${file.key}: ${file.path} holds no PEM revocation list ("-----BEGIN X509 CRL-----").`);
  try {
    createSecureContext({ crl: pem });
  } catch (err) {
    throw new TlsFileError(`${file.key}: the revocation list in ${file.path} cannot be used: ${(err as Error).message}`);
  }
  return pem;
}

/** A certificate's subject as one line, "CN=gw-a, O=Shop" (Node writes one attribute per line). */
export function subjectLine(certificate: X509Certificate): string {
  return certificate.subject.split('\n').filter(Boolean).join(', ');
}

/** A certificate's SHA-256 fingerprint as lowercase hex without colons. */
export function fingerprintHex(certificate: X509Certificate): string {
  return certificate.fingerprint256.replaceAll(':', '').toLowerCase();
}

/** When a certificate stops being valid, in ms since epoch. */
export const notAfterMs = (certificate: X509Certificate): number => Date.parse(certificate.validTo);
