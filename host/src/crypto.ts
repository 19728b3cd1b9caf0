// Node's crypto for every host module, through process.getBuiltinModule and
// not `import ... from 'node:crypto'`: the ES module facade of a builtin
// reads every export, and node:crypto's lazy `webcrypto` getter then loads
// Node's WebCrypto, which nothing here uses (idle RSS of `serve` on its
// defaults 71.9-72.6 -> 69.8-69.9 MB at 15 s, bench/startup/README.md).
// gateway.ts takes node:http the same way, for the same reason.
const crypto = process.getBuiltinModule('node:crypto');

export const { constants, createCipheriv, createHash, createHmac, createPrivateKey, createPublicKey, hash, publicEncrypt, randomBytes, randomUUID, timingSafeEqual, verify } = crypto;
export const X509Certificate = crypto.X509Certificate;
export type X509Certificate = import('node:crypto').X509Certificate;
export type KeyObject = import('node:crypto').KeyObject;
