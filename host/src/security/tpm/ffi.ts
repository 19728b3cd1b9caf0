// The TSS2 shared libraries through koffi. Every structure crosses the FFI
// in TPM wire format: inputs are built as bytes (wire.ts) and unmarshalled by
// libtss2-mu into a zeroed buffer that ESAPI reads; outputs that ESAPI
// allocates are marshalled back to bytes and freed with Esys_Free. So no C
// struct layout is declared here, only functions taking pointers.
import koffi, { type LibraryHandle } from 'koffi';
import { TpmError } from './errors.js';

type NativeFn = ReturnType<LibraryHandle['func']>;

/** Big enough for any TSS2 structure the gateway passes (the largest, TPML_DIGEST_VALUES, is ~1 KiB). */
const STRUCT_BYTES = 8192;

export interface TssLibraries {
  tctiInit: NativeFn;
  tctiFinalize: NativeFn;
  esysInit: NativeFn;
  esysFinalize: NativeFn;
  esysFree: NativeFn;
  rcDecode: NativeFn;
  /** Esys_* commands by name (without the prefix). */
  esys: Record<string, NativeFn>;
  unmarshal: Record<string, NativeFn>;
  marshal: Record<string, NativeFn>;
}

// Declared as `void *` throughout: ESYS_TR is uint32_t, pointers are BigInt in koffi 3.
const ESYS_COMMANDS: Record<string, string> = {
  TR_FromTPMPublic: 'uint32_t Esys_TR_FromTPMPublic(void *ctx, uint32_t handle, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ uint32_t *object)',
  TR_Close: 'uint32_t Esys_TR_Close(void *ctx, _Inout_ uint32_t *object)',
  FlushContext: 'uint32_t Esys_FlushContext(void *ctx, uint32_t handle)',
  ReadPublic: 'uint32_t Esys_ReadPublic(void *ctx, uint32_t object, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ void **pub, _Out_ void **name, _Out_ void **qname)',
  CreatePrimary:
    'uint32_t Esys_CreatePrimary(void *ctx, uint32_t hierarchy, uint32_t s1, uint32_t s2, uint32_t s3, void *sensitive, void *pub, void *outside, void *pcrs, _Out_ uint32_t *object, _Out_ void **outPub, _Out_ void **creationData, _Out_ void **creationHash, _Out_ void **ticket)',
  EvictControl: 'uint32_t Esys_EvictControl(void *ctx, uint32_t auth, uint32_t object, uint32_t s1, uint32_t s2, uint32_t s3, uint32_t persistent, _Out_ uint32_t *newObject)',
  Quote: 'uint32_t Esys_Quote(void *ctx, uint32_t key, uint32_t s1, uint32_t s2, uint32_t s3, void *qualifying, void *scheme, void *pcrs, _Out_ void **quoted, _Out_ void **signature)',
  PCR_Read: 'uint32_t Esys_PCR_Read(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, void *pcrs, _Out_ uint32_t *counter, _Out_ void **selOut, _Out_ void **values)',
  PCR_Extend: 'uint32_t Esys_PCR_Extend(void *ctx, uint32_t pcr, uint32_t s1, uint32_t s2, uint32_t s3, void *digests)',
  PCR_Reset: 'uint32_t Esys_PCR_Reset(void *ctx, uint32_t pcr, uint32_t s1, uint32_t s2, uint32_t s3)',
  NV_ReadPublic: 'uint32_t Esys_NV_ReadPublic(void *ctx, uint32_t index, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ void **pub, _Out_ void **name)',
  NV_Read: 'uint32_t Esys_NV_Read(void *ctx, uint32_t auth, uint32_t index, uint32_t s1, uint32_t s2, uint32_t s3, uint16_t size, uint16_t offset, _Out_ void **data)',
  StartAuthSession:
    'uint32_t Esys_StartAuthSession(void *ctx, uint32_t tpmKey, uint32_t bind, uint32_t s1, uint32_t s2, uint32_t s3, void *nonce, uint8_t type, void *symmetric, uint16_t hash, _Out_ uint32_t *session)',
  PolicySecret:
    'uint32_t Esys_PolicySecret(void *ctx, uint32_t auth, uint32_t session, uint32_t s1, uint32_t s2, uint32_t s3, void *nonceTpm, void *cpHash, void *policyRef, int32_t expiration, _Out_ void **timeout, _Out_ void **ticket)',
  ActivateCredential:
    'uint32_t Esys_ActivateCredential(void *ctx, uint32_t activate, uint32_t key, uint32_t s1, uint32_t s2, uint32_t s3, void *blob, void *secret, _Out_ void **certInfo)',
  Certify:
    'uint32_t Esys_Certify(void *ctx, uint32_t object, uint32_t sign, uint32_t s1, uint32_t s2, uint32_t s3, void *qualifying, void *scheme, _Out_ void **certifyInfo, _Out_ void **signature)',
  Sign: 'uint32_t Esys_Sign(void *ctx, uint32_t key, uint32_t s1, uint32_t s2, uint32_t s3, void *digest, void *scheme, void *validation, _Out_ void **signature)',
  GetCapability:
    'uint32_t Esys_GetCapability(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, uint32_t cap, uint32_t property, uint32_t count, _Out_ uint8_t *more, _Out_ void **data)',
};

/** TSS2 structure names the gateway converts, each both ways (libtss2-mu has both for all). */
const MU_TYPES = [
  'TPM2B_PUBLIC', 'TPM2B_NAME', 'TPM2B_SENSITIVE_CREATE', 'TPM2B_DATA', 'TPML_PCR_SELECTION', 'TPM2B_ATTEST',
  'TPMT_SIGNATURE', 'TPMT_SIG_SCHEME', 'TPML_DIGEST', 'TPML_DIGEST_VALUES', 'TPM2B_NV_PUBLIC', 'TPM2B_MAX_NV_BUFFER',
  'TPM2B_NONCE', 'TPM2B_DIGEST', 'TPMT_SYM_DEF', 'TPM2B_ID_OBJECT', 'TPM2B_ENCRYPTED_SECRET', 'TPMS_CAPABILITY_DATA',
  'TPMT_TK_HASHCHECK',
] as const;
export type MuType = (typeof MU_TYPES)[number];

function open(name: string): LibraryHandle {
  try {
    return koffi.load(name);
  } catch (err) {
    throw new TpmError(
      'tpm_library_missing',
      `cannot load ${name} (${(err as Error).message}); install the TPM software stack (Debian: apt-get install libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-tcti-device0 libtss2-tcti-swtpm0 libtss2-mu0 libtss2-rc0) or set security.use_tpm = false`,
    );
  }
}

let loaded: TssLibraries | undefined;

/** Loads the TSS libraries once per process. */
export function tssLibraries(): TssLibraries {
  if (loaded) return loaded;
  // The TSS logs every failed connection attempt to stderr; the gateway reports failures itself, as TpmErrors.
  process.env.TSS2_LOG ??= 'all+none';
  const esysLib = open('libtss2-esys.so.0');
  const tctiLib = open('libtss2-tctildr.so.0');
  const muLib = open('libtss2-mu.so.0');
  const rcLib = open('libtss2-rc.so.0');
  const esys = Object.fromEntries(Object.entries(ESYS_COMMANDS).map(([name, proto]) => [name, esysLib.func(proto)]));
  const unmarshal = Object.fromEntries(
    MU_TYPES.map((t) => [t, muLib.func(`uint32_t Tss2_MU_${t}_Unmarshal(const uint8_t *buf, size_t size, _Inout_ size_t *offset, void *dest)`)]),
  );
  const marshal = Object.fromEntries(
    MU_TYPES.map((t) => [t, muLib.func(`uint32_t Tss2_MU_${t}_Marshal(void *src, _Out_ uint8_t *buf, size_t size, _Inout_ size_t *offset)`)]),
  );
  loaded = {
    tctiInit: tctiLib.func('uint32_t Tss2_TctiLdr_Initialize(const char *conf, _Out_ void **tcti)'),
    tctiFinalize: tctiLib.func('void Tss2_TctiLdr_Finalize(_Inout_ void **tcti)'),
    esysInit: esysLib.func('uint32_t Esys_Initialize(_Out_ void **ctx, void *tcti, void *abi)'),
    esysFinalize: esysLib.func('void Esys_Finalize(_Inout_ void **ctx)'),
    esysFree: esysLib.func('void Esys_Free(void *ptr)'),
    rcDecode: rcLib.func('const char *Tss2_RC_Decode(uint32_t rc)'),
    esys,
    unmarshal,
    marshal,
  };
  return loaded;
}

/** The TSS's own words for a return code. */
export function decodeRc(rc: number): string {
  return String(tssLibraries().rcDecode(rc));
}

/** Wire bytes -> a C structure ESAPI can read (a zeroed buffer the size of any of them). */
export function toNative(type: MuType, wire: Uint8Array): Buffer {
  const dest = Buffer.alloc(STRUCT_BYTES);
  const offset = [0];
  const rc = tssLibraries().unmarshal[type]!(wire, wire.length, offset, dest) as number;
  if (rc !== 0) throw new TpmError('tpm_command_failed', `Tss2_MU_${type}_Unmarshal: ${decodeRc(rc)}`, rc);
  return dest;
}

/** A C structure ESAPI allocated -> wire bytes; frees it. A null pointer is an empty result. */
export function fromNative(type: MuType, pointer: unknown): Buffer {
  if (pointer === null || pointer === undefined || pointer === 0n) return Buffer.alloc(0);
  const libs = tssLibraries();
  try {
    const out = Buffer.alloc(STRUCT_BYTES);
    const offset = [0];
    const rc = libs.marshal[type]!(pointer, out, out.length, offset) as number;
    if (rc !== 0) throw new TpmError('tpm_command_failed', `Tss2_MU_${type}_Marshal: ${decodeRc(rc)}`, rc);
    return out.subarray(0, Number(offset[0]));
  } finally {
    libs.esysFree(pointer);
  }
}

/** Frees ESAPI-allocated outputs the caller does not read. */
export function freeNative(...pointers: unknown[]): void {
  for (const p of pointers) if (p !== null && p !== undefined && p !== 0n) tssLibraries().esysFree(p);
}
