// The gateway's TPM: opened at start when security.use_tpm is on (the
// gateway does not start without it), measured into its PCR, and served as
// REST routes behind the gateway's authentication. A TPM that stops answering
// later makes those routes answer 503 with the TSS's words and /health
// degraded; it is never a crash.
import { HttpRefusal } from '../../protocol/http-refusal.js';
import { HTTP_REFUSED } from '../../protocol/jsonrpc.js';
import type { RouteRegistry } from '../../gateway/routes.js';
import { readJsonBody } from '../../gateway/body.js';
import type { Logger } from '../../telemetry/log.js';
import { Attestor, NONCE_BYTES, type AttestationEvidence, type KeyCertification } from './attestor.js';
import { TpmError } from './errors.js';
import { Tpm } from './esys.js';
import type { TpmIdentity } from './identity.js';
import type { AttestationChannel } from './peer-attestation.js';
import { TpmRsaPrivateKey } from './libp2p-key.js';
import { codeDigest, configDigest, MEASUREMENT_PCR } from './measure.js';
import type { TpmSettings } from './settings.js';
import { parseTcti } from './tcti.js';

/** What /health says about the TPM. */
export type TpmStatus =
  | { enabled: false }
  | { enabled: true; device: string; ak_name: string; pcrs: readonly number[]; measurement_pcr: number; code_digest: string; config_digest: string; last_error?: string };

const MAX_BODY = 16 * 1024;

export class TpmService {
  private lastError: string | undefined;
  /** Undefined after the TPM became unreachable: the next request opens it again and measures anew. */
  private attestor: Promise<Attestor> | undefined;
  private readonly akName: string;

  private constructor(
    attestor: Attestor,
    private readonly settings: Extract<TpmSettings, { enabled: true }>,
    private readonly digests: { code: Buffer; config: Buffer },
    private readonly log: Logger,
  ) {
    this.attestor = Promise.resolve(attestor);
    this.akName = attestor.akName;
  }

  /** Opens the TPM and measures the gateway (its code and `config`) into MEASUREMENT_PCR. */
  static async start(settings: Extract<TpmSettings, { enabled: true }>, config: unknown, log: Logger): Promise<TpmService> {
    const digests = { code: codeDigest(), config: configDigest(config) };
    const attestor = await TpmService.open(settings, digests);
    log.info('TPM ready', { device: settings.device, ak: attestor.akName, pcrs: attestor.pcrs.join(',') });
    return new TpmService(attestor, settings, digests, log);
  }

  private static async open(settings: Extract<TpmSettings, { enabled: true }>, digests: { code: Buffer; config: Buffer }): Promise<Attestor> {
    const tpm = await Tpm.connect(parseTcti(settings.device), { commandTimeoutMs: settings.commandTimeoutMs });
    try {
      return await Attestor.start(tpm, { pcrs: settings.pcrs, ...digests });
    } catch (err) {
      await tpm.close();
      throw err;
    }
  }

  status(): TpmStatus {
    return {
      enabled: true,
      device: this.settings.device,
      ak_name: this.akName,
      pcrs: [...new Set([...this.settings.pcrs, MEASUREMENT_PCR])].sort((a, b) => a - b),
      measurement_pcr: MEASUREMENT_PCR,
      code_digest: this.digests.code.toString('hex'),
      config_digest: this.digests.config.toString('hex'),
      ...(this.lastError ? { last_error: this.lastError } : {}),
    };
  }

  /** /health reasons: the TPM's last command failed. */
  problems(): string[] {
    return this.lastError ? [`TPM (${this.settings.device}): ${this.lastError}`] : [];
  }

  quote(nonce: Buffer): Promise<AttestationEvidence> {
    return this.tracked((a) => a.quote(nonce));
  }

  identity(): Promise<TpmIdentity> {
    return this.tracked((a) => a.identity());
  }

  /** A challenge the TPM refuses (made for another EK or AK) is the caller's error: 400, and /health stays as it is. */
  activate(blob: Buffer, encryptedSecret: Buffer): Promise<Buffer> {
    return this.tracked(async (a) => {
      try {
        return await a.activate(blob, encryptedSecret);
      } catch (err) {
        if (err instanceof TpmError && err.code === 'tpm_command_failed') {
          throw new HttpRefusal(400, HTTP_REFUSED, `Bad Request: this TPM cannot activate the credential (${err.message}); it was made for another EK or AK.`);
        }
        throw err;
      }
    });
  }

  openHandles(): Promise<number> {
    return this.tracked((a) => a.openHandles());
  }

  /**
   * The mesh identity (mesh.identity = "tpm"): a libp2p private key whose
   * signatures the TPM makes. Created and persisted in the TPM on first use; a
   * TpmError (not a 503) when the TPM cannot give it, so the gateway's start fails with it.
   */
  async meshIdentity(): Promise<TpmRsaPrivateKey> {
    const publicKey = await this.run((a) => a.meshPublicKey());
    this.log.info('mesh identity in the TPM', { device: this.settings.device });
    return new TpmRsaPrivateKey(publicKey, (digest) => this.run((a) => a.meshSign(digest)));
  }

  /** The AK's certification of the mesh identity key for `nonce` (a mesh peer binding this node's peer id to this TPM). */
  certifyMeshKey(nonce: Buffer): Promise<KeyCertification> {
    return this.tracked((a) => a.certifyMeshKey(nonce));
  }

  /**
   * What this node answers mesh peers' attestation questions with. The mesh
   * key's certification only with `meshKeyInTpm`: with a key file, the peer id
   * is not the TPM key's, and certifying that would only create a useless key.
   */
  prover(meshKeyInTpm: boolean): AttestationChannel {
    const answers: AttestationChannel = { identity: () => this.identity(), activate: (blob, secret) => this.activate(blob, secret), quote: (nonce) => this.quote(nonce) };
    return meshKeyInTpm ? { ...answers, certifyMeshKey: (nonce) => this.certifyMeshKey(nonce) } : answers;
  }

  /** Runs a TPM operation for a route: a TpmError becomes a 503 that says what failed. */
  private async tracked<T>(operation: (attestor: Attestor) => Promise<T>): Promise<T> {
    try {
      return await this.run(operation);
    } catch (err) {
      if (!(err instanceof TpmError)) throw err;
      throw new HttpRefusal(503, HTTP_REFUSED, `The TPM did not answer: ${err.message}`);
    }
  }

  /**
   * Runs a TPM operation. A TpmError is remembered for /health; an unreachable
   * TPM is reopened (and the gateway measured again: a TPM that restarted has
   * lost PCR 23) by the next operation.
   */
  private async run<T>(operation: (attestor: Attestor) => Promise<T>): Promise<T> {
    try {
      // One promise: operations that arrive while the TPM is being reopened wait for the same connection.
      this.attestor ??= this.reopen();
      const result = await operation(await this.attestor);
      this.lastError = undefined;
      return result;
    } catch (err) {
      if (!(err instanceof TpmError)) throw err;
      this.lastError = err.message;
      this.log.warn('TPM command failed', { code: err.code, error: err.message });
      if (err.code === 'tpm_unreachable') await this.drop();
      throw err;
    }
  }

  /** Opens the TPM again; a failed attempt is forgotten, so the next request tries anew. */
  private reopen(): Promise<Attestor> {
    const opening = TpmService.open(this.settings, this.digests);
    opening.catch(() => {
      if (this.attestor === opening) this.attestor = undefined;
    });
    return opening;
  }

  /** Forgets a connection ESAPI can no longer use (a failed transmission leaves its context mid-command). */
  private async drop(): Promise<void> {
    const attestor = this.attestor;
    this.attestor = undefined;
    await attestor?.then((a) => a.close()).catch(() => undefined);
  }

  /** GET /v1/attestation/identity, POST /v1/attestation/quote and /v1/attestation/activate. */
  registerRoutes(routes: RouteRegistry): void {
    routes.set('GET /v1/attestation/identity', () => this.identity());
    routes.set('POST /v1/attestation/quote', async (req) => {
      const body = await readJsonBody(req, MAX_BODY);
      return this.quote(hexField(body, 'nonce', NONCE_BYTES));
    });
    routes.set('POST /v1/attestation/activate', async (req) => {
      const body = await readJsonBody(req, MAX_BODY);
      const credential = await this.activate(base64Field(body, 'blob'), base64Field(body, 'secret'));
      return { credential: credential.toString('base64') };
    });
  }

  close(): Promise<void> {
    return this.drop();
  }
}

function field(body: unknown, name: string): string {
  const value = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  if (typeof value !== 'string') throw new HttpRefusal(400, HTTP_REFUSED, `Bad Request: the body must be a JSON object with a string "${name}".`);
  return value;
}

function hexField(body: unknown, name: string, size: { min: number; max: number }): Buffer {
  const value = field(body, name);
  if (!/^([0-9a-fA-F]{2})+$/.test(value) || value.length / 2 < size.min || value.length / 2 > size.max) {
    throw new HttpRefusal(400, HTTP_REFUSED, `Bad Request: "${name}" must be ${size.min} to ${size.max} bytes in hex (a fresh random value from the verifier).`);
  }
  return Buffer.from(value, 'hex');
}

function base64Field(body: unknown, name: string): Buffer {
  const value = field(body, name);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw new HttpRefusal(400, HTTP_REFUSED, `Bad Request: "${name}" must be base64.`);
  return Buffer.from(value, 'base64');
}
