// TPM access through the TSS2 ESAPI (koffi), against Debian's swtpm.
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TpmError } from '../host/src/security/tpm/errors.js';
import { Tpm } from '../host/src/security/tpm/esys.js';
import { exportIdentity, loadAk, release } from '../host/src/security/tpm/identity.js';
import { parseTcti } from '../host/src/security/tpm/tcti.js';
import { startSwtpm, type SoftwareTpm } from './helpers/swtpm.js';

describe('tpm_device', () => {
  it('turns the two TCTI forms into loader configurations', () => {
    expect(parseTcti('device:/dev/tpmrm0')).toEqual({ kind: 'device', loaderConf: 'device:/dev/tpmrm0' });
    expect(parseTcti('swtpm:host=127.0.0.1,port=2400')).toEqual({ kind: 'swtpm', loaderConf: 'swtpm:host=127.0.0.1,port=2400', host: '127.0.0.1', port: 2400 });
  });

  it.each([
    ['mssim:host=x', /neither "device" nor "swtpm"/],
    ['device:tpm0', /under \/dev\//],
    ['swtpm:port=99999', /not 1\.\.65535/],
    ['swtpm:host=a;b,port=1', /not a name or address/],
    ['swtpm:colour=red', /unknown field "colour"/],
  ])('refuses %s with a typed error', (value, words) => {
    const err = (() => {
      try {
        parseTcti(value);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TpmError);
    expect((err as TpmError).code).toBe('tpm_config_invalid');
    expect((err as TpmError).message).toMatch(words);
  });
});

describe('ESAPI against swtpm', () => {
  let swtpm: SoftwareTpm;
  let tpm: Tpm;
  beforeAll(async () => {
    swtpm = await startSwtpm();
    tpm = Tpm.open(parseTcti(swtpm.tcti));
  }, 60_000);
  afterAll(async () => {
    await tpm?.close();
    await swtpm?.stop();
  });

  it('reads and extends PCRs', async () => {
    const before = await tpm.readPcrs([0, 1, 2, 3, 4, 5, 6, 7, 16, 23]);
    expect([...before.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 16, 23]);
    await tpm.extendPcr(16, Buffer.alloc(32, 1));
    const after = await tpm.readPcrs([16]);
    expect(after.get(16)).not.toEqual(before.get(16));
    await tpm.resetPcr(16);
    expect((await tpm.readPcrs([16])).get(16)).toEqual(Buffer.alloc(32));
  });

  it('exports an AK and the EK with its certificate, leaving no handle loaded', async () => {
    const ak = await loadAk(tpm);
    const first = await exportIdentity(tpm, ak);
    await release(tpm, ak);
    expect(first.akName).toMatch(/^000b[0-9a-f]{64}$/);
    expect(first.ekCertificate).toContain('BEGIN CERTIFICATE');
    // The certificate is for this TPM's EK.
    const cert = new X509Certificate(first.ekCertificate!);
    expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(first.ekPem);
    // The AK is persisted: the second export finds the same key.
    const again = await loadAk(tpm);
    expect((await exportIdentity(tpm, again)).akName).toBe(first.akName);
    await release(tpm, again);
    expect(await tpm.openHandles()).toBe(0);
  });

  it('decodes a TPM error to words', async () => {
    const err = await tpm.resetPcr(0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TpmError);
    expect((err as TpmError).code).toBe('tpm_command_failed');
    expect((err as TpmError).rc).toBeGreaterThan(0);
    expect((err as TpmError).message).toMatch(/^Esys_PCR_Reset failed: tpm:.*locality/);
  });

  it('reports an unreachable TPM with a typed error, and works again once it is back', async () => {
    await swtpm.stop();
    const err = await tpm.readPcrs([0]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TpmError);
    expect((err as TpmError).code).toBe('tpm_unreachable');
    expect((err as TpmError).message).toMatch(/tcti:.*security\.tpm_device/);
    await swtpm.restart();
    // The context that failure cut off stays out of sequence (esapi BAD_SEQUENCE) even with the TPM
    // back: that is unreachable too, so the TPM service drops it and opens a new one (a mesh signature
    // once failed here as a plain command error, and /health said so).
    const stale = await tpm.readPcrs([0]).catch((e: unknown) => e);
    expect((stale as TpmError).code).toBe('tpm_unreachable');
    expect((stale as TpmError).message).toMatch(/the TPM is unreachable \(esapi:.*an earlier command was cut off\)/);
    await tpm.close();
    tpm = Tpm.open(parseTcti(swtpm.tcti));
    expect((await tpm.readPcrs([0])).get(0)).toHaveLength(32);
  });
});
