// security.attestation_required: a queue destination that is another
// mcp-edge, or a mesh peer, gets no call until it proved, with a fresh TPM
// quote, which TPM it runs on and what code and config it measured. Before the
// first request, and again before the first request after
// attestation_interval_seconds, the peer is registered (its EK certificate
// checked, its AK bound to the EK by credential activation) and quoted with a
// nonce of this gateway's verifier. For a destination the check sits in its
// fetch: a refusal fails the request, so the queue keeps the calls and retries
// with its backoff. The mesh asks over a libp2p stream (mesh/attestation.ts).
import { X509Certificate } from '../../crypto.js';
import { readFileSync } from 'node:fs';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { AuditRecorder } from '../audit/log.js';
import type { Logger } from '../../telemetry/log.js';
import type { KeyObject } from '../../crypto.js';
import type { AttestationEvidence, KeyCertification } from './attestor.js';
import { boundedText } from '../../protocol/bounded-body.js';
import { TpmError } from './errors.js';
import type { PeerAttestationConfig } from './settings.js';
import type { TpmIdentity } from './identity.js';
import { AttestationRefused, Verifier, type RegisteredAk, type VerifierOptions } from './verifier.js';

export interface PeerAttestationSettings {
  verifier: VerifierOptions;
  /** A verified peer is quoted again after this many ms. */
  intervalMs: number;
  /** How long a queue destination has to answer each attestation request, its body included (HTTP_ANSWER_TIMEOUT_MS when absent). */
  answerTimeoutMs?: number;
}

/** A destination's TPM answers a quote in well under a second; a slow real TPM in a few. */
export const HTTP_ANSWER_TIMEOUT_MS = 30_000;
/** The most bytes of one attestation answer read (an identity with its EK certificate is a few KiB). */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/** The peer could not be admitted: the destination's request fails with this. */
export class PeerNotAttested extends Error {
  override readonly name = 'PeerNotAttested';
}

interface PeerState {
  ak?: RegisteredAk;
  verifiedAt?: number;
  pending?: Promise<void>;
}

/** How a verifier reaches a peer's TPM: the three questions attestation asks (over HTTP for a queue destination, a libp2p stream for a mesh peer). */
export interface AttestationChannel {
  identity(): Promise<TpmIdentity>;
  /** The peer's answer to a credential challenge (MakeCredential output). */
  activate(blob: Buffer, secret: Buffer): Promise<Buffer>;
  quote(nonce: Buffer): Promise<AttestationEvidence>;
  /** The AK's certification of the node's mesh identity key (TPM2_Certify); only a node whose mesh key is in its TPM answers it. */
  certifyMeshKey?(nonce: Buffer): Promise<KeyCertification>;
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
    const channel = httpChannel(new URL(mcpUrl).origin, inner, this.settings.answerTimeoutMs ?? HTTP_ANSWER_TIMEOUT_MS);
    return async (url, init) => {
      await this.admit(destination, `destination "${destination}"`, channel);
      return inner(url, init);
    };
  }

  /** When each peer (a destination's name, or "mesh:<peer id>") last passed, ms since epoch (for /health and tests). */
  verifiedAt(target: string): number | undefined {
    return this.peers.get(target)?.verifiedAt;
  }

  /**
   * Resolves once `target` has a verified quote younger than the interval,
   * attesting it over `channel` when it has none; PeerNotAttested otherwise.
   * `label` names the peer in the refusal. Concurrent callers share one attempt.
   * With `peerKey` (a mesh peer: the key its connection proved, undefined when
   * no TPM could hold it), the TPM that quoted must also certify that key.
   */
  async admit(target: string, label: string, channel: AttestationChannel, peerKey?: () => KeyObject | undefined): Promise<void> {
    const state = this.peers.get(target) ?? {};
    this.peers.set(target, state);
    if (state.verifiedAt !== undefined && this.now() - state.verifiedAt < this.settings.intervalMs) return;
    state.pending ??= this.attest(target, label, channel, state, peerKey).finally(() => {
      state.pending = undefined;
    });
    await state.pending;
  }

  private async attest(target: string, label: string, channel: AttestationChannel, state: PeerState, peerKey?: () => KeyObject | undefined): Promise<void> {
    const start = performance.now();
    try {
      state.ak ??= await this.verifier.register(await channel.identity(), (blob, secret) => channel.activate(blob, secret));
      const nonce = this.verifier.issueNonce();
      this.verifier.verify(state.ak, nonce, await channel.quote(nonce));
      // After the quote: a peer without a TPM is told so, rather than that its key is not in one.
      if (peerKey) await this.checkBinding(state.ak, channel, peerKey());
      state.verifiedAt = this.now();
      this.audit.record({ operation: 'attest', outcome: 'ok', target, latencyMs: performance.now() - start });
    } catch (err) {
      state.verifiedAt = undefined;
      const reason = err instanceof AttestationRefused ? err.reason : 'unreachable';
      // A peer whose AK failed may have been replaced: register it again next time.
      if (err instanceof AttestationRefused) state.ak = undefined;
      const detail = `${reason}: ${(err as Error).message}`;
      this.audit.record({ operation: 'attest', outcome: 'denied', target, detail, latencyMs: performance.now() - start });
      this.log.warn('peer attestation failed; the peer is refused until it attests', { peer: target, reason, error: (err as Error).message });
      throw new PeerNotAttested(`${label} is not admitted: attestation failed (${detail})`);
    }
  }

  /** The TPM that quoted must certify, with its AK and for a fresh nonce, that it holds `key`. */
  private async checkBinding(ak: RegisteredAk, channel: AttestationChannel, key: KeyObject | undefined): Promise<void> {
    if (!key) throw new AttestationRefused('key_not_bound', 'the peer is known by a key no TPM holds (a key file: mesh.identity = "file" there)');
    if (!channel.certifyMeshKey) throw new AttestationRefused('key_not_bound', 'the channel to this peer cannot ask for a key certification');
    const nonce = this.verifier.issueNonce();
    let certification: KeyCertification;
    try {
      certification = await channel.certifyMeshKey(nonce);
    } catch (err) {
      throw new AttestationRefused('key_not_bound', `the peer's TPM did not certify its mesh key: ${(err as Error).message}`);
    }
    this.verifier.verifyKeyCertification(ak, nonce, certification, key);
  }
}

/**
 * The attestation routes of the mcp-edge at `base`, through `fetch` (the
 * destination's own TLS settings). Each request, its answer read whole, has
 * `timeoutMs`, and an answer at most MAX_ANSWER_BYTES: every delivery to the
 * destination waits for the one attempt, so an answer that never ended stopped
 * them all for good, and an endless one was read until memory ran out.
 */
function httpChannel(base: string, fetch: FetchLike, timeoutMs: number): AttestationChannel {
  const ask = async <T>(path: string, body?: unknown): Promise<T> => {
    const url = `${base}${path}`;
    const signal = AbortSignal.timeout(timeoutMs);
    const init: RequestInit =
      body === undefined
        ? { method: 'GET', headers: { accept: 'application/json' }, signal }
        : { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body), signal };
    try {
      const res = await fetch(url, init);
      const text = await boundedText(res, `${url}'s answer`, MAX_ANSWER_BYTES);
      if (!res.ok) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as T;
    } catch (err) {
      if (signal.aborted) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
      throw err;
    }
  };
  return {
    identity: () => ask<TpmIdentity>('/v1/attestation/identity'),
    activate: async (blob, secret) => Buffer.from((await ask<{ credential: string }>('/v1/attestation/activate', { blob: blob.toString('base64'), secret: secret.toString('base64') })).credential, 'base64'),
    quote: (nonce) => ask<AttestationEvidence>('/v1/attestation/quote', { nonce: nonce.toString('hex') }),
  };
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

/** The gateway's peer attestation (one verifier for queue destinations and mesh peers); undefined without attestation_required. */
export function createPeerAttestation(config: PeerAttestationConfig | undefined, audit: AuditRecorder, log: Logger): PeerAttestation | undefined {
  if (!config) return undefined;
  const verifier: VerifierOptions = { pcrs: config.pcrs, policy: config.policy, ...(config.ekCaFile ? { ekCas: readEkCas(config.ekCaFile) } : {}) };
  return new PeerAttestation({ verifier, intervalMs: config.intervalMs }, audit, log);
}

/** The queue's destination fetches, those of URL destinations wrapped to admit only attested peers (with attestation_required). */
export function attestingFetches(
  attestation: PeerAttestation | undefined,
  destinations: Readonly<Record<string, { target: { url: string } | { upstream: string } | { mesh: true } }>>,
  fetches: Readonly<Record<string, FetchLike>>,
): Record<string, FetchLike> {
  if (!attestation) return { ...fetches };
  const out: Record<string, FetchLike> = { ...fetches };
  for (const [name, d] of Object.entries(destinations)) {
    if ('url' in d.target) out[name] = attestation.fetchFor(name, d.target.url, fetches[name] ?? ((url, init) => fetch(url, init)));
  }
  return out;
}
