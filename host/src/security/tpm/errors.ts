// Errors of the TPM layer. Every TSS return code is kept (rc) and decoded to
// words by the TSS itself (Tss2_RC_Decode), so an operator reads
// "tcti:IO failure" or "tpm:parameter(1):value is out of range", not 0xa000a.

/** What kind of failure: decides what the operator is told to do. */
export type TpmErrorCode =
  /** libtss2-esys / -tctildr / -mu / -rc could not be loaded. */
  | 'tpm_library_missing'
  /** The TCTI could not be opened or the TPM stopped answering (device gone, swtpm down). */
  | 'tpm_unreachable'
  /** The TPM answered a command with an error. */
  | 'tpm_command_failed'
  /** tpm_device is not a TCTI the gateway understands. */
  | 'tpm_config_invalid'
  /** What the TPM holds is not what the gateway expects (no EK, a foreign key at the AK handle). */
  | 'tpm_state_unexpected'
  /** Something asked for a TPM-resident private key's bytes, which never leave the TPM. */
  | 'tpm_key_resident';

export class TpmError extends Error {
  override readonly name = 'TpmError';
  constructor(
    readonly code: TpmErrorCode,
    message: string,
    /** The TSS2_RC when the TSS returned one. */
    readonly rc?: number,
  ) {
    super(message);
  }
}

/** The TSS layer of a return code (bits 16..23): 0 is the TPM itself, 10 the TCTI. */
export function rcLayer(rc: number): number {
  return (rc >>> 16) & 0xff;
}

const TCTI_LAYER = 10;
const ESYS_LAYER = 7;
/** TSS2_ESYS_RC_BAD_SEQUENCE: the context is still waiting for the answer of an exchange that failed. */
const ESYS_BAD_SEQUENCE = 7;

/** A TpmError for `command` failing with `rc`, with the TSS's own words for it. */
export function commandError(command: string, rc: number, words: string): TpmError {
  const hex = `0x${rc.toString(16).padStart(8, '0')}`;
  if (rcLayer(rc) === TCTI_LAYER) {
    return new TpmError('tpm_unreachable', `${command}: the TPM is unreachable (${words}, ${hex}); check that the TPM device or swtpm named by security.tpm_device is up`, rc);
  }
  // Commands run one at a time, so a context out of sequence is one that an earlier command left
  // mid-exchange when the TPM went away: it is as unusable as the link, and is opened again.
  if (rcLayer(rc) === ESYS_LAYER && (rc & 0xffff) === ESYS_BAD_SEQUENCE) {
    return new TpmError('tpm_unreachable', `${command}: the TPM is unreachable (${words}, ${hex}: an earlier command was cut off); check that the TPM device or swtpm named by security.tpm_device is up`, rc);
  }
  return new TpmError('tpm_command_failed', `${command} failed: ${words} (${hex})`, rc);
}
