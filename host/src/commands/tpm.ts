// mcp-edge tpm identity: this node's TPM identity, for a verifier to register:
// the attestation key (created under the endorsement hierarchy and persisted
// on first use) and the EK with its certificate. JSON on stdout.
import { parseArgs } from 'node:util';
import { DEFAULT_TPM_DEVICE, parseTcti } from '../security/tpm/tcti.js';
import { commandTimeoutOf } from '../security/tpm/settings.js';
import { CONFIG_OPTIONS, loadCliConfig, UsageError, type ConfigOptions } from './common.js';

export const TPM_HELP = `  mcp-edge tpm identity      the TPM's attestation key and EK certificate (JSON),
                             from security.tpm_device (default ${DEFAULT_TPM_DEVICE})`;

/** Runs `mcp-edge tpm <action>`. */
export async function tpmCommand(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { ...CONFIG_OPTIONS } });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [action, ...extra] = parsed.positionals;
  if (action !== 'identity') throw new UsageError(action === undefined ? `say what to do:\n${TPM_HELP}` : `unknown tpm action "${action}"; use identity`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const config = await loadCliConfig(parsed.values as ConfigOptions);
  // Loaded here: the TPM bindings load libtss2 through koffi, which nothing else needs.
  const { Tpm } = await import('../security/tpm/esys.js');
  const { exportIdentity, loadAk, release } = await import('../security/tpm/identity.js');
  const tpm = await Tpm.connect(parseTcti(config.security.tpm_device ?? DEFAULT_TPM_DEVICE), { commandTimeoutMs: commandTimeoutOf(config.security) });
  try {
    const ak = await loadAk(tpm);
    try {
      out(`${JSON.stringify(await exportIdentity(tpm, ak), null, 2)}\n`);
    } finally {
      await release(tpm, ak);
    }
  } finally {
    await tpm.close();
  }
}
