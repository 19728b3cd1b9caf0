// What the gateway measures into its PCR at start: the digest of its own code
// (every file of the compiled host, the core component included) and of its
// validated config. The TPM only keeps the running hash; the gateway keeps the
// events (the event log) so a verifier can replay them and compare each
// digest with the reference it trusts.
import { createHash } from '../../crypto.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The resettable PCR (PC Client: 23, "application support") the gateway owns. */
export const MEASUREMENT_PCR = 23;

export interface MeasurementEvent {
  pcr: number;
  /** "code" or "config". */
  what: 'code' | 'config';
  /** SHA-256, hex: what was extended. */
  digest: string;
}

/** host/dist (or host/src when run from source): the gateway's own code. */
export const CODE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const SKIPPED = /\.(map|tsbuildinfo)$/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.isFile() && !SKIPPED.test(e.name) ? [join(dir, e.name)] : []))
    .sort();
}

/** SHA-256 over every file under `root`: each one's relative path and content digest, in path order. */
export function codeDigest(root: string = CODE_ROOT): Buffer {
  const hash = createHash('sha256');
  for (const file of files(root)) {
    hash.update(`${relative(root, file)}\0`);
    hash.update(createHash('sha256').update(readFileSync(file)).digest());
  }
  return hash.digest();
}

/** SHA-256 of the validated config as JSON (the same config gives the same digest). */
export function configDigest(config: unknown): Buffer {
  return createHash('sha256').update(JSON.stringify(config)).digest();
}

/** The events of one start: code, then config, both into MEASUREMENT_PCR. */
export function measurementEvents(code: Buffer, config: Buffer): MeasurementEvent[] {
  return [
    { pcr: MEASUREMENT_PCR, what: 'code', digest: code.toString('hex') },
    { pcr: MEASUREMENT_PCR, what: 'config', digest: config.toString('hex') },
  ];
}

/** The PCR value the events give from a reset PCR (zeros): PCR := SHA-256(PCR || digest) for each. */
export function replayEvents(events: readonly MeasurementEvent[], pcr: number): Buffer {
  let value = Buffer.alloc(32);
  for (const e of events) if (e.pcr === pcr) value = createHash('sha256').update(value).update(Buffer.from(e.digest, 'hex')).digest();
  return value;
}
