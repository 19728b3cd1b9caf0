// mcp-edge mesh: what a node needs before it joins a mesh. `keygen` writes the
// swarm key every node of a private mesh shares; `id` prints this node's peer
// id (creating its identity in the data dir, or in the TPM with
// mesh.identity = "tpm"), which allowlists and bootstrap addresses name.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { resolveSettings } from '../config/resolve.js';
import { meshIdentityFile } from '../config/mesh-settings.js';
import { DEFAULT_TPM_DEVICE } from '../security/tpm/tcti.js';
import { CONFIG_OPTIONS, loadCliConfig, UsageError, type ConfigOptions } from './common.js';
import type { Output } from './keys.js';

export const MESH_HELP = `  mcp-edge mesh keygen <file>
                             write a new network key (mesh.network_key_file);
                             copy it to every node of the mesh
  mcp-edge mesh id           print this node's peer id (mesh.allowed_peers)`;

const stdio: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Runs `mcp-edge mesh <action> ...`. */
export async function meshCommand(argv: string[], io: Output = stdio): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: CONFIG_OPTIONS });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [action, arg, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  switch (action) {
    case 'keygen': {
      if (!arg) throw new UsageError('say where to write the key: mcp-edge mesh keygen <file>');
      const { writeNetworkKey } = await import('../mesh/identity.js');
      writeNetworkKey(resolve(arg));
      io.err(`Wrote a new network key to ${resolve(arg)}. Copy it to every node of the mesh and set mesh.network_key_file to it; keep it secret (whoever has it may join).\n`);
      return;
    }
    case 'id': {
      if (arg) throw new UsageError(`unexpected argument "${arg}"`);
      const config = await loadCliConfig(parsed.values as ConfigOptions);
      // libp2p's modules load only for the mesh commands (they would slow every other command's start).
      const { peerIdFromPublicKey } = await import('@libp2p/peer-id');
      if (config.mesh.identity === 'tpm') {
        // The TPM bindings load libtss2 through koffi: only for a TPM identity.
        const [{ meshPublicKeyOf }, { publicKeyFromRaw }] = await Promise.all([import('../security/tpm/mesh-key.js'), import('@libp2p/crypto/keys')]);
        const der = await meshPublicKeyOf(config.security.tpm_device ?? DEFAULT_TPM_DEVICE);
        io.out(`${peerIdFromPublicKey(publicKeyFromRaw(der)).toString()}\n`);
        return;
      }
      const { loadIdentity } = await import('../mesh/identity.js');
      const identity = await loadIdentity(meshIdentityFile(resolveSettings(config).dataDir));
      io.out(`${peerIdFromPublicKey(identity.publicKey).toString()}\n`);
      return;
    }
    case undefined:
      throw new UsageError(`say what to do:\n${MESH_HELP}`);
    default:
      throw new UsageError(`unknown mesh action "${action}"; use keygen or id`);
  }
}
