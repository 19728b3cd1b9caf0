// security.attestation_required: a queue destination that is another
// mcp-edge gets no call until it proved, with a fresh TPM quote, which TPM it
// runs on and what code and config it measured. The check sits in the
// destination's fetch: before the first request, and again before the first
// request after attestation_interval_seconds, the peer is registered (its EK
// certificate checked, its AK bound to the EK by credential activation) and
// quoted with a nonce of this gateway's verifier. A refusal is audited and
// fails the request, so the queue keeps the calls and retries with its backoff.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { AuditRecorder } from '../audit/log.js';
import type { Logger } from '../../telemetry/log.js';
import type { AttestationEvidence } from './attestor.js';
import { TpmError } from './errors.js';
import type { PeerAttestationConfig } from './settings.js';
import type { TpmIdentity } from './identity.js';
import { AttestationRefused, Verifier, type RegisteredAk, type VerifierOptions } from './verifier.js';

export interface PeerAttestationSettings {
  verifier: VerifierOptions;
  /** A verified peer is quoted again after this many ms. */
  intervalMs: number;
}

/** The peer could not be admitted: the destination's request fails with this. */
export class PeerNotAttested extends Error {
  override readonly name = 'PeerNotAttested';
}

interface PeerState {
  ak?: RegisteredAk;
  verifiedAt?: number;
  pending?: Promise<void>;
}

export class PeerAttestation {
  private readonly verifier: Verifier;
  private readonly peers = new Map<string, PeerState>();

  constructor(
    private readonly settings: PeerAttestationSettings,
    private readonly audit: AuditRecorder,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.verifier = new Verifier({ ...settings.verifier, now });
  }

  /** `inner` (the destination's own fetch), admitting requests to `mcpUrl` only after the peer attested. */
  fetchFor(destination: string, mcpUrl: string, inner: FetchLike): FetchLike {
    const base = new URL(mcpUrl).origin;
    return async (url, init) => {
      await this.admit(destination, base, inner);
      return inner(url, init);
    };
  }

  /** When each destination last passed, ms since epoch (for /health and tests). */
  verifiedAt(destination: string): number | undefined {
    return this.peers.get(destination)?.verifiedAt;
  }

  private async admit(destination: string, base: string, fetch: FetchLike): Promise<void> {
    const state = this.peers.get(destination) ?? {};
    this.peers.set(destination, state);
    if (state.verifiedAt !== undefined && this.now() - state.verifiedAt < this.settings.intervalMs) return;
    state.pending ??= this.attest(destination, base, fetch, state).finally(() => {
      state.pending = undefined;
    });
    await state.pending;
  }

  private async attest(destination: string, base: string, fetch: FetchLike, state: PeerState): Promise<void> {
    const start = performance.now();
    try {
      state.ak ??= await this.verifier.register(await this.getJson<TpmIdentity>(fetch, `${base}/v1/attestation/identity`), async (blob, secret) => {
        const answer = await this.postJson<{ credential: string }>(fetch, `${base}/v1/attestation/activate`, { blob: blob.toString('base64'), secret: secret.toString('base64') });
        return Buffer.from(answer.credential, 'base64');
      });
      const nonce = this.verifier.issueNonce();
      const evidence = await this.postJson<AttestationEvidence>(fetch, `${base}/v1/attestation/quote`, { nonce: nonce.toString('hex') });
      this.verifier.verify(state.ak, nonce, evidence);
      state.verifiedAt = this.now();
      this.audit.record({ operation: 'attest', outcome: 'ok', target: destination, latencyMs: performance.now() - start });
    } catch (err) {
      state.verifiedAt = undefined;
      const reason = err instanceof AttestationRefused ? err.reason : 'unreachable';
      // A peer whose AK failed may have been replaced: register it again next time.
      if (err instanceof AttestationRefused) state.ak = undefined;
      const detail = `${reason}: ${(err as Error).message}`;
      this.audit.record({ operation: 'attest', outcome: 'denied', target: destination, detail, latencyMs: performance.now() - start });
      this.log.warn('peer attestation failed; its calls wait', { destination, reason, error: (err as Error).message });
      throw new PeerNotAttested(`destination "${destination}" is not admitted: attestation failed (${detail})`);
    }
  }

  private async getJson<T>(fetch: FetchLike, url: string): Promise<T> {
    return this.answer<T>(url, await fetch(url, { method: 'GET', headers: { accept: 'application/json' } }));
  }

  private async postJson<T>(fetch: FetchLike, url: string, body: unknown): Promise<T> {
    return this.answer<T>(url, await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) }));
  }

  private async answer<T>(url: string, res: Response): Promise<T> {
    const text = await res.text();
    if (!res.ok) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readEkCas(file: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TpmError('tpm_config_invalid', `security.attestation_ek_ca: cannot read ${file} (${(err as Error).message})`);
  }
  const certificates = (text.match(PEM_CERTIFICATE) ?? []).map((pem) => new X509Certificate(pem));
  if (certificates.length === 0) throw new TpmError('tpm_config_invalid', `security.attestation_ek_ca: ${file} holds no PEM certificate`);
  return certificates;
}

/** The queue's destination fetches, those of URL destinations wrapped to admit only attested peers (with attestation_required). */
export function attestingFetches(
  config: PeerAttestationConfig | undefined,
  destinations: Readonly<Record<string, { target: { url: string } | { upstream: string } }>>,
  fetches: Readonly<Record<string, FetchLike>>,
  audit: AuditRecorder,
  log: Logger,
): Record<string, FetchLike> {
  if (!config) return { ...fetches };
  const verifier: VerifierOptions = { pcrs: config.pcrs, policy: config.policy, ...(config.ekCaFile ? { ekCas: readEkCas(config.ekCaFile) } : {}) };
  const attestation = new PeerAttestation({ verifier, intervalMs: config.intervalMs }, audit, log);
  const out: Record<string, FetchLike> = { ...fetches };
  for (const [name, d] of Object.entries(destinations)) {
    if ('url' in d.target) out[name] = attestation.fetchFor(name, d.target.url, fetches[name] ?? ((url, init) => fetch(url, init)));
  }
  return out;
}
