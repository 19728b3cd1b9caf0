// This node's peer identity: an Ed25519 key kept in the data dir, so the node
// keeps its peer id across restarts (peers and allowlists name it).
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { generateKey } from '@libp2p/pnet';
import { MeshError } from './errors.js';

/** Reads the key at `file`, or creates it (owner-only) on first start. */
export async function loadIdentity(file: string): Promise<PrivateKey> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new MeshError(`cannot read the mesh identity ${file}: ${(err as Error).message}`);
    const key = await generateKeyPair('Ed25519');
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return key;
  }
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new MeshError(`the mesh identity ${file} is not a libp2p private key (${(err as Error).message}); move it away to make a new identity (the node's peer id changes)`);
  }
}

/** Reads the swarm key every node of a private mesh shares. */
export function loadNetworkKey(file: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MeshError(`cannot read mesh.network_key_file ${file}: ${(err as Error).message}`);
  }
  if (!/^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n[0-9a-fA-F]{64}\s*$/.test(text)) {
    throw new MeshError(`mesh.network_key_file ${file} is not a swarm key: it holds three lines, "/key/swarm/psk/1.0.0/", "/base16/" and 64 hex digits (\`mcp-edge mesh keygen FILE\` writes one)`);
  }
  return new TextEncoder().encode(text);
}

/** Writes a new swarm key to `file` (owner-only); never overwrites one. */
export function writeNetworkKey(file: string): void {
  const key = new Uint8Array(95);
  generateKey(key);
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new MeshError(`${file} exists already; a new key would cut this node off the mesh that uses it. Choose another path, or remove it first.`);
    throw new MeshError(`cannot write the network key ${file}: ${(err as Error).message}`);
  }
}
