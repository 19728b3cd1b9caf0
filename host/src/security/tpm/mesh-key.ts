// The mesh identity key (mesh.identity = "tpm"): an RSA signing key created
// once as a primary key of the owner hierarchy and persisted, so the node's
// peer id survives restarts and reboots. Its private part never leaves the
// TPM; libp2p's signatures are made by TPM2_Sign (libp2p-key.ts).
import { TpmError } from './errors.js';
import { Tpm, TR } from './esys.js';
import { loadPersistentKey, release, type LoadedKey } from './identity.js';
import { parseTcti } from './tcti.js';
import { MESH_KEY_ATTRIBUTES, MESH_KEY_HANDLE, meshKeyTemplate } from './templates.js';
import { ALG, readPublicArea, readSignature } from './wire.js';

const HANDLE_HEX = `0x${MESH_KEY_HANDLE.toString(16)}`;

function isMeshKey(tpmtPublic: Buffer): boolean {
  const area = readPublicArea(tpmtPublic);
  return area.type === ALG.RSA && area.scheme === ALG.RSASSA && area.attributes === MESH_KEY_ATTRIBUTES;
}

/**
 * The key at MESH_KEY_HANDLE, created and persisted on first use. A foreign key
 * there is refused, not replaced: it may be another program's.
 */
export function loadMeshKey(tpm: Tpm): Promise<LoadedKey> {
  return loadPersistentKey(tpm, {
    handle: MESH_KEY_HANDLE,
    hierarchy: TR.RH_OWNER,
    template: meshKeyTemplate(),
    isOurs: isMeshKey,
    foreign: `persistent handle ${HANDLE_HEX} holds a key that is not an mcp-edge mesh key; free it (tpm2_evictcontrol -C o -c ${HANDLE_HEX}) or set mesh.identity = "file"`,
  });
}

/** The mesh key's public key as SubjectPublicKeyInfo DER (what libp2p reads an RSA public key from). */
export function meshPublicKeyDer(key: LoadedKey): Buffer {
  return readPublicArea(key.tpmtPublic).key.export({ type: 'spki', format: 'der' });
}

/** An RSASSA-PKCS1-v1_5 signature of a SHA-256 digest, as the bare signature bytes libp2p verifies. */
export async function signWithMeshKey(tpm: Tpm, key: LoadedKey, digest: Buffer): Promise<Buffer> {
  const parsed = readSignature(await tpm.sign(key.tr, digest));
  if (parsed.alg !== ALG.RSASSA || parsed.hash !== ALG.SHA256) {
    throw new TpmError('tpm_state_unexpected', `the mesh key signed with algorithm 0x${parsed.alg.toString(16)}, not RSASSA with SHA-256`);
  }
  return parsed.signature;
}

/** The mesh key's public key (SPKI DER) from the TPM at `device` (a tpm_device value), created on first use: for `mcp-edge mesh id`. */
export async function meshPublicKeyOf(device: string, commandTimeoutMs: number): Promise<Buffer> {
  const tpm = await Tpm.connect(parseTcti(device), { commandTimeoutMs });
  try {
    const key = await loadMeshKey(tpm);
    await release(tpm, key);
    return meshPublicKeyDer(key);
  } finally {
    await tpm.close();
  }
}
