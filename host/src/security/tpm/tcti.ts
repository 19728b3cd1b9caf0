// security.tpm_device names the TPM: "device:/dev/tpmrm0" (the kernel's
// resource manager on a Pi or Jetson with a TPM) or "swtpm:host=H,port=N"
// (a software TPM over TCP, for tests). The string is also the TCTI loader's
// configuration, once checked here: a typo is a config error at start, not a
// TSS failure later.
import { TpmError } from './errors.js';

/** `loaderConf`: what Tss2_TctiLdr_Initialize is given; a software TPM's address too, for the probe (swtpm-probe.ts). */
export type TctiConfig = { kind: 'device'; loaderConf: string } | { kind: 'swtpm'; loaderConf: string; host: string; port: number };

export const DEFAULT_TPM_DEVICE = 'device:/dev/tpmrm0';

function invalid(value: string, why: string): TpmError {
  return new TpmError(
    'tpm_config_invalid',
    `security.tpm_device "${value}" ${why}; use "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321"`,
  );
}

function parseSwtpm(value: string, rest: string): TctiConfig {
  const fields = new Map<string, string>();
  for (const part of rest.split(',')) {
    const [key, val, ...extra] = part.split('=');
    if (!key || val === undefined || val === '' || extra.length > 0) throw invalid(value, `has a malformed field "${part}"`);
    if (key !== 'host' && key !== 'port') throw invalid(value, `has an unknown field "${key}"`);
    fields.set(key, val);
  }
  const host = fields.get('host') ?? '127.0.0.1';
  const port = Number(fields.get('port') ?? '2321');
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalid(value, 'has a port that is not 1..65535');
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw invalid(value, 'has a host that is not a name or address');
  return { kind: 'swtpm', loaderConf: `swtpm:host=${host},port=${port}`, host, port };
}

/** Checks a tpm_device value and turns it into the TCTI loader's configuration. */
export function parseTcti(value: string): TctiConfig {
  const colon = value.indexOf(':');
  const kind = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? '' : value.slice(colon + 1);
  if (kind === 'device') {
    if (!rest.startsWith('/dev/')) throw invalid(value, 'must name a device under /dev/');
    return { kind: 'device', loaderConf: `device:${rest}` };
  }
  if (kind === 'swtpm') return parseSwtpm(value, rest);
  throw invalid(value, `starts with "${kind}", which is neither "device" nor "swtpm"`);
}
