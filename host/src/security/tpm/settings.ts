// [security] use_tpm, tpm_device, tpm_pcrs: what the gateway does with a TPM.
import { resolve } from 'node:path';
import { DEFAULT_TPM_DEVICE } from './tcti.js';

/** How long one TPM command may take by default (security.tpm_command_timeout_ms): a slow TPM's RSA key generation takes tens of seconds. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/** The PCRs quoted by default: 0-7, what firmware and boot loader measured. */
export const DEFAULT_QUOTED_PCRS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7];

/** `device` is a tpm_device value the schema checked; the TPM service parses it when it opens the TPM. */
export type TpmSettings = { enabled: false } | { enabled: true; device: string; pcrs: readonly number[]; commandTimeoutMs: number };

export interface TpmConfigKeys {
  use_tpm?: boolean | undefined;
  tpm_device?: string | undefined;
  tpm_pcrs?: readonly number[] | undefined;
  tpm_command_timeout_ms?: number | undefined;
  attestation_required?: boolean | undefined;
  attestation_interval_seconds?: number | undefined;
  attestation_policy?: { code?: string[] | undefined; config?: string[] | undefined; pcrs?: Record<string, string> | undefined } | undefined;
  attestation_ek_ca?: string | undefined;
}

/** security.attestation_*: how this gateway checks its peers (it needs no TPM of its own for that). */
export interface PeerAttestationConfig {
  /** The PCRs a peer's quote must cover besides 23: this gateway's tpm_pcrs. */
  pcrs: readonly number[];
  intervalMs: number;
  policy: { code?: readonly string[]; config?: readonly string[]; pcrs?: Readonly<Record<string, string>> };
  /** Absolute path of the EK CA bundle, if any. */
  ekCaFile?: string;
}

const lower = (xs: readonly string[] | undefined): string[] | undefined => xs?.map((x) => x.toLowerCase());

/** The peer-attestation part of the resolved settings; undefined without attestation_required. */
export function resolvePeerAttestation(security: TpmConfigKeys): PeerAttestationConfig | undefined {
  if (security.attestation_required !== true) return undefined;
  const p = security.attestation_policy ?? {};
  const code = lower(p.code);
  const config = lower(p.config);
  const pcrs = p.pcrs ? Object.fromEntries(Object.entries(p.pcrs).map(([k, v]) => [k, v.toLowerCase()])) : undefined;
  return {
    pcrs: [...new Set(security.tpm_pcrs ?? DEFAULT_QUOTED_PCRS)].sort((a, b) => a - b),
    intervalMs: (security.attestation_interval_seconds ?? 300) * 1000,
    policy: { ...(code ? { code } : {}), ...(config ? { config } : {}), ...(pcrs ? { pcrs } : {}) },
    ...(security.attestation_ek_ca !== undefined ? { ekCaFile: resolve(security.attestation_ek_ca) } : {}),
  };
}

/** security.tpm_command_timeout_ms, or its default: for the gateway and the TPM commands of the CLI alike. */
export function commandTimeoutOf(security: TpmConfigKeys): number {
  return security.tpm_command_timeout_ms ?? DEFAULT_COMMAND_TIMEOUT_MS;
}

/** The TPM part of the resolved settings. */
export function resolveTpm(security: TpmConfigKeys): TpmSettings {
  const device = security.tpm_device ?? DEFAULT_TPM_DEVICE;
  const pcrs = [...new Set(security.tpm_pcrs ?? DEFAULT_QUOTED_PCRS)].sort((a, b) => a - b);
  if (security.use_tpm !== true) return { enabled: false };
  return { enabled: true, device, pcrs, commandTimeoutMs: commandTimeoutOf(security) };
}
