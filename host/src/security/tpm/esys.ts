// One connection to a TPM through ESAPI. Commands run on koffi's worker
// threads (a real TPM takes tens to hundreds of ms per command; the event loop
// must not wait) and one at a time: an ESYS_CONTEXT is not thread-safe.
import { keepFromChildren, openDescriptors } from './descriptors.js';
import { commandError, TpmError } from './errors.js';
import { decodeRc, freeNative, fromNative, toNative, tssLibraries, type TssLibraries } from './ffi.js';
import { DEFAULT_COMMAND_TIMEOUT_MS } from './settings.js';
import { probeTcti } from './swtpm-probe.js';
import type { TctiConfig } from './tcti.js';
import { ALG, pcrSelection, readDigestList, Reader, readPcrSelection, tpm2b, u16, u32 } from './wire.js';

export const TR = { NONE: 0xfff, PASSWORD: 0x0ff, RH_OWNER: 0x101, RH_ENDORSEMENT: 0x10b } as const;
const SE_POLICY = 0x01;
const ST_HASHCHECK = 0x8024;
const RH_NULL = 0x40000007;
const CAP_HANDLES = 0x00000001;

type Native = bigint | null;

/** A command the TPM never answered: still running on its worker thread. */
interface Stuck {
  command: string;
  since: number;
  /** Settles when the native call finally returns. */
  returned: Promise<void>;
}

/**
 * Devices (TCTI loader strings) with a command that outlived its deadline: not
 * opened again until it returns. Each stuck command holds a worker thread of
 * the process, and reopening a TPM that takes commands and never answers would
 * give it another one each time, until file and DNS work had none left.
 */
const stuckDevices = new Map<string, Stuck>();

export interface TpmOptions {
  /** A command not answered within this many ms fails, and so does every later one on this connection (security.tpm_command_timeout_ms). */
  commandTimeoutMs?: number;
}

export class Tpm {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private stuck: Stuck | undefined;

  private constructor(
    private readonly libs: TssLibraries,
    private ctx: Native,
    private tcti: Native,
    private readonly device: string,
    private readonly commandTimeoutMs: number,
  ) {}

  /**
   * Opens the TCTI and an ESAPI context on it (ESAPI sends nothing until the
   * first command). What the TCTI opened is kept from child processes (descriptors.ts).
   */
  static open(tcti: TctiConfig, options: TpmOptions = {}): Tpm {
    refuseWhileStuck(tcti.loaderConf);
    const libs = tssLibraries();
    const before = openDescriptors();
    const tctiOut: Native[] = [null];
    const rc = libs.tctiInit(tcti.loaderConf, tctiOut) as number;
    if (rc !== 0) throw new TpmError('tpm_unreachable', `cannot open TCTI "${tcti.loaderConf}": ${decodeRc(rc)}: the TPM is unreachable; check security.tpm_device and that the TPM is there`, rc);
    try {
      keepFromChildren(before);
    } catch (err) {
      libs.tctiFinalize(tctiOut);
      throw err;
    }
    const ctxOut: Native[] = [null];
    const rc2 = libs.esysInit(ctxOut, tctiOut[0], null) as number;
    if (rc2 !== 0) {
      libs.tctiFinalize(tctiOut);
      throw new TpmError('tpm_unreachable', `cannot start ESAPI on "${tcti.loaderConf}": ${decodeRc(rc2)}: the TPM is unreachable`, rc2);
    }
    return new Tpm(libs, ctxOut[0] ?? null, tctiOut[0] ?? null, tcti.loaderConf, options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
  }

  /** Tpm.open, once a software TPM answered within a deadline (swtpm-probe.ts): what the gateway uses. */
  static async connect(tcti: TctiConfig, options: TpmOptions = {}): Promise<Tpm> {
    // Before the probe too: a silent TPM would make it wait out its 10 s.
    refuseWhileStuck(tcti.loaderConf);
    await probeTcti(tcti);
    return Tpm.open(tcti, options);
  }

  /**
   * Waits for running commands, then releases the context and the TCTI. A
   * command that outlived its deadline is not waited for: the context is
   * released when it returns (a worker thread still uses it until then).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.stuck) await this.queue.catch(() => undefined);
    const release = () => {
      this.libs.esysFinalize([this.ctx]);
      this.libs.tctiFinalize([this.tcti]);
      this.ctx = null;
      this.tcti = null;
    };
    if (this.stuck) void this.stuck.returned.then(release);
    else release();
  }

  /** Runs Esys_`name` on a worker thread after the commands before it; a non-zero rc is a TpmError. */
  private call(name: string, ...args: unknown[]): Promise<void> {
    const run = (): Promise<void> =>
      new Promise((resolve, reject) => {
        if (this.stuck) return reject(stuckError(this.device, this.stuck));
        if (this.closed) return reject(new TpmError('tpm_unreachable', `Esys_${name}: the TPM connection is closed (the TPM is unreachable until it is opened again)`));
        let returned!: () => void;
        const stuck: Stuck = { command: `Esys_${name}`, since: Date.now(), returned: new Promise<void>((r) => (returned = r)) };
        // The native call cannot be cancelled: past the deadline this connection is given up, and the call left to return.
        const deadline = setTimeout(() => {
          this.stuck = stuck;
          stuckDevices.set(this.device, stuck);
          reject(new TpmError('tpm_unreachable', `Esys_${name}: the TPM did not answer within ${this.commandTimeoutMs} ms (security.tpm_command_timeout_ms); it is not used again until it answers`));
        }, this.commandTimeoutMs);
        this.libs.esys[name]!.async(this.ctx, ...args, (err: Error | null, rc: number) => {
          clearTimeout(deadline);
          returned();
          if (stuckDevices.get(this.device) === stuck) stuckDevices.delete(this.device);
          if (err) return reject(new TpmError('tpm_command_failed', `Esys_${name}: ${err.message}`));
          if (rc !== 0) return reject(commandError(`Esys_${name}`, rc, decodeRc(rc)));
          resolve();
        });
      });
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** An ESYS_TR for a persistent or NV handle; undefined when nothing is there. Close it with closeTr. */
  async fromTpmPublic(handle: number): Promise<number | undefined> {
    const out = [0];
    try {
      await this.call('TR_FromTPMPublic', handle, TR.NONE, TR.NONE, TR.NONE, out);
    } catch (err) {
      if (err instanceof TpmError && err.code === 'tpm_command_failed') return undefined;
      throw err;
    }
    return out[0];
  }

  /** Forgets an ESYS_TR of a persistent object (the object stays in the TPM). */
  async closeTr(tr: number): Promise<void> {
    await this.call('TR_Close', [tr]);
  }

  /** Unloads a transient object or session from the TPM. */
  async flush(tr: number): Promise<void> {
    await this.call('FlushContext', tr);
  }

  /** TPM2B_PUBLIC of a loaded object. */
  async readPublic(tr: number): Promise<Buffer> {
    const pub: Native[] = [null];
    const name: Native[] = [null];
    const qname: Native[] = [null];
    await this.call('ReadPublic', tr, TR.NONE, TR.NONE, TR.NONE, pub, name, qname);
    freeNative(name[0], qname[0]);
    return fromNative('TPM2B_PUBLIC', pub[0]);
  }

  /** A primary key of `hierarchy` from a TPM2B_PUBLIC template: its transient ESYS_TR and TPM2B_PUBLIC. */
  async createPrimary(hierarchy: number, template: Buffer, sensitive: Buffer): Promise<{ tr: number; publicArea: Buffer }> {
    const tr = [0];
    const outs: Native[][] = [[null], [null], [null], [null]];
    await this.call(
      'CreatePrimary', hierarchy, TR.PASSWORD, TR.NONE, TR.NONE,
      toNative('TPM2B_SENSITIVE_CREATE', sensitive), toNative('TPM2B_PUBLIC', template), toNative('TPM2B_DATA', u16(0)),
      toNative('TPML_PCR_SELECTION', u32(0)), tr, ...outs,
    );
    freeNative(outs[1]![0], outs[2]![0], outs[3]![0]);
    return { tr: tr[0]!, publicArea: fromNative('TPM2B_PUBLIC', outs[0]![0]) };
  }

  /** Makes a transient object persistent at `handle` (owner authorization, empty). Returns the new ESYS_TR. */
  async persist(tr: number, handle: number): Promise<number> {
    const out = [0];
    await this.call('EvictControl', TR.RH_OWNER, tr, TR.PASSWORD, TR.NONE, TR.NONE, handle, out);
    return out[0]!;
  }

  /** A quote of SHA-256 `pcrs` with `nonce` as qualifying data: TPMS_ATTEST and TPMT_SIGNATURE bytes. */
  async quote(ak: number, nonce: Buffer, pcrs: readonly number[]): Promise<{ attest: Buffer; signature: Buffer }> {
    const quoted: Native[] = [null];
    const signature: Native[] = [null];
    await this.call(
      'Quote', ak, TR.PASSWORD, TR.NONE, TR.NONE,
      toNative('TPM2B_DATA', tpm2b(nonce)), toNative('TPMT_SIG_SCHEME', u16(ALG.NULL)), toNative('TPML_PCR_SELECTION', pcrSelection(pcrs)),
      quoted, signature,
    );
    const attest = new Reader(fromNative('TPM2B_ATTEST', quoted[0])).tpm2b();
    return { attest: Buffer.from(attest), signature: fromNative('TPMT_SIGNATURE', signature[0]) };
  }

  /** TPM2_Certify: `signer` (the AK) attests that `object` is loaded in this TPM, with `nonce` as qualifying data. */
  async certify(object: number, signer: number, nonce: Buffer): Promise<{ attest: Buffer; signature: Buffer }> {
    const info: Native[] = [null];
    const signature: Native[] = [null];
    await this.call(
      'Certify', object, signer, TR.PASSWORD, TR.PASSWORD, TR.NONE,
      toNative('TPM2B_DATA', tpm2b(nonce)), toNative('TPMT_SIG_SCHEME', u16(ALG.NULL)), info, signature,
    );
    const attest = new Reader(fromNative('TPM2B_ATTEST', info[0])).tpm2b();
    return { attest: Buffer.from(attest), signature: fromNative('TPMT_SIGNATURE', signature[0]) };
  }

  /**
   * TPM2_Sign of a SHA-256 digest with an unrestricted signing key, in the key's own scheme: TPMT_SIGNATURE bytes.
   * The NULL ticket is enough: only restricted keys need proof that the TPM hashed the data itself.
   */
  async sign(key: number, digest: Buffer): Promise<Buffer> {
    const signature: Native[] = [null];
    const nullTicket = Buffer.concat([u16(ST_HASHCHECK), u32(RH_NULL), u16(0)]);
    await this.call(
      'Sign', key, TR.PASSWORD, TR.NONE, TR.NONE,
      toNative('TPM2B_DIGEST', tpm2b(digest)), toNative('TPMT_SIG_SCHEME', u16(ALG.NULL)), toNative('TPMT_TK_HASHCHECK', nullTicket), signature,
    );
    return fromNative('TPMT_SIGNATURE', signature[0]);
  }

  /** SHA-256 values of `pcrs` (the TPM answers at most 8 per read). */
  async readPcrs(pcrs: readonly number[]): Promise<Map<number, Buffer>> {
    const values = new Map<number, Buffer>();
    let pending = [...pcrs];
    while (pending.length > 0) {
      const counter = [0];
      const selOut: Native[] = [null];
      const digests: Native[] = [null];
      await this.call('PCR_Read', TR.NONE, TR.NONE, TR.NONE, toNative('TPML_PCR_SELECTION', pcrSelection(pending)), counter, selOut, digests);
      const read = readPcrSelection(new Reader(fromNative('TPML_PCR_SELECTION', selOut[0]))).flatMap((b) => b.pcrs);
      const list = readDigestList(fromNative('TPML_DIGEST', digests[0]));
      if (read.length === 0) throw new TpmError('tpm_state_unexpected', `the TPM has no SHA-256 bank for PCRs ${pending.join(',')}`);
      read.forEach((pcr, i) => values.set(pcr, Buffer.from(list[i]!)));
      pending = pending.filter((p) => !values.has(p));
    }
    return values;
  }

  /** Extends SHA-256 PCR `pcr` with `digest` (32 bytes). */
  async extendPcr(pcr: number, digest: Buffer): Promise<void> {
    const values = Buffer.concat([u32(1), u16(ALG.SHA256), digest]);
    await this.call('PCR_Extend', pcr, TR.PASSWORD, TR.NONE, TR.NONE, toNative('TPML_DIGEST_VALUES', values));
  }

  /** Resets a resettable PCR (16 and 23 at locality 0) to zeros. */
  async resetPcr(pcr: number): Promise<void> {
    await this.call('PCR_Reset', pcr, TR.PASSWORD, TR.NONE, TR.NONE);
  }

  /** The whole contents of NV index `index` (read in 512-byte pieces, with its own empty auth). */
  async readNv(index: number): Promise<Buffer | undefined> {
    const tr = await this.fromTpmPublic(index);
    if (tr === undefined) return undefined;
    try {
      const pub: Native[] = [null];
      const name: Native[] = [null];
      await this.call('NV_ReadPublic', tr, TR.NONE, TR.NONE, TR.NONE, pub, name);
      freeNative(name[0]);
      const r = new Reader(fromNative('TPM2B_NV_PUBLIC', pub[0]));
      r.u16(); r.u32(); r.u16(); r.u32(); r.tpm2b(); // size, nvIndex, nameAlg, attributes, authPolicy
      const size = r.u16();
      const pieces: Buffer[] = [];
      for (let offset = 0; offset < size; offset += 512) {
        const data: Native[] = [null];
        await this.call('NV_Read', tr, tr, TR.PASSWORD, TR.NONE, TR.NONE, Math.min(512, size - offset), offset, data);
        pieces.push(Buffer.from(new Reader(fromNative('TPM2B_MAX_NV_BUFFER', data[0])).tpm2b()));
      }
      return Buffer.concat(pieces);
    } finally {
      await this.closeTr(tr);
    }
  }

  /** ActivateCredential: the EK (authorized by the endorsement policy) unwraps a credential bound to `ak`. */
  async activateCredential(ak: number, ek: number, blob: Buffer, secret: Buffer): Promise<Buffer> {
    const session = [0];
    await this.call('StartAuthSession', TR.NONE, TR.NONE, TR.NONE, TR.NONE, TR.NONE, null, SE_POLICY, toNative('TPMT_SYM_DEF', u16(ALG.NULL)), ALG.SHA256, session);
    try {
      const timeout: Native[] = [null];
      const ticket: Native[] = [null];
      await this.call('PolicySecret', TR.RH_ENDORSEMENT, session[0], TR.PASSWORD, TR.NONE, TR.NONE, null, null, null, 0, timeout, ticket);
      freeNative(timeout[0], ticket[0]);
      const certInfo: Native[] = [null];
      await this.call(
        'ActivateCredential', ak, ek, TR.PASSWORD, session[0], TR.NONE,
        toNative('TPM2B_ID_OBJECT', tpm2b(blob)), toNative('TPM2B_ENCRYPTED_SECRET', tpm2b(secret)), certInfo,
      );
      return Buffer.from(new Reader(fromNative('TPM2B_DIGEST', certInfo[0])).tpm2b());
    } finally {
      await this.flush(session[0]!).catch(() => undefined); // ActivateCredential already ended a policy session that succeeded
    }
  }

  /** How many transient objects and sessions the TPM holds now (0 when the gateway leaks none). */
  async openHandles(): Promise<number> {
    let total = 0;
    for (const first of [0x80000000, 0x02000000, 0x03000000]) {
      const more = Buffer.alloc(1);
      const data: Native[] = [null];
      await this.call('GetCapability', TR.NONE, TR.NONE, TR.NONE, CAP_HANDLES, first, 64, more, data);
      const r = new Reader(fromNative('TPMS_CAPABILITY_DATA', data[0]));
      r.u32(); // capability
      total += r.u32();
    }
    return total;
  }
}

/** Throws while `device` has a command that outlived its deadline (stuckDevices). */
function refuseWhileStuck(device: string): void {
  const stuck = stuckDevices.get(device);
  if (stuck) throw stuckError(device, stuck);
}

function stuckError(device: string, stuck: Stuck): TpmError {
  const seconds = Math.round((Date.now() - stuck.since) / 1000);
  return new TpmError('tpm_unreachable', `the TPM (${device}) has not answered ${stuck.command}, sent ${seconds} s ago; it is used again once it answers`);
}
