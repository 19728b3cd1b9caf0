// The issuer's signing keys (a JWKS), from a URL or a file, kept in memory.
//
// jose picks the key for each token (createLocalJWKSet: kid, alg, key type,
// public keys only); this file decides when to fetch. An edge gateway must
// keep checking tokens while its issuer is away, so it keeps the last good
// key set for as long as it must: a stale set is refreshed in the background
// (the token in hand is checked against the keys held), a failed fetch keeps
// the old keys, and a token naming a key the set lacks (the issuer rotated)
// fetches again at once, but never sooner than the cooldown after the
// previous fetch: a flood of tokens with made-up key ids costs the issuer
// one request per cooldown, not one per token.
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../config/load.js';
import type { JwksSource } from '../config/resolve.js';
import { boundedText } from '../protocol/bounded-body.js';
import type { Logger } from '../telemetry/log.js';

/** The most bytes of a JWKS document read; a real one is a few KiB. */
const MAX_JWKS_BYTES = 512 * 1024;
const FETCH_TIMEOUT_MS = 5_000;

/** No key set has been loaded yet (the issuer was unreachable since the start): tokens cannot be checked now. */
export class KeysUnavailable extends Error {
  override readonly name = 'KeysUnavailable';
}

export interface SigningKeysOptions {
  source: JwksSource;
  /** A set older than this is refreshed in the background. */
  maxAgeMs: number;
  /** Least time between two fetches. */
  cooldownMs: number;
  log: Logger;
}

/** The text of the key set at `source`. */
async function load(source: JwksSource): Promise<string> {
  if ('file' in source) {
    const text = await readFile(source.file, 'utf8');
    if (text.length > MAX_JWKS_BYTES) throw new Error(`the JWKS is larger than ${MAX_JWKS_BYTES} bytes`);
    return text;
  }
  // No redirects: the keys come from the URL the operator wrote, nowhere else.
  const response = await fetch(source.url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/jwk-set+json, application/json' } });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  return boundedText(response, 'the JWKS', MAX_JWKS_BYTES);
}

export class SigningKeys {
  private keys: JWTVerifyGetKey | undefined;
  private loadedAt = -Infinity;
  private attemptedAt = -Infinity;
  private pending: Promise<void> | undefined;
  private lastProblem = 'not fetched yet';

  constructor(private readonly options: SigningKeysOptions) {}

  /** Where the keys come from, for messages. */
  get where(): string {
    return 'file' in this.options.source ? this.options.source.file : this.options.source.url;
  }

  /** Seconds until the next fetch may happen: what a refused client is told to wait. */
  get retryAfterSeconds(): number {
    return Math.max(1, (this.attemptedAt + this.options.cooldownMs - Date.now()) / 1000);
  }

  /** The first load. A file that cannot be read is the operator's to fix (thrown); an unreachable URL is logged and retried on demand. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.keys) return;
    if ('file' in this.options.source) throw new ConfigError(`auth.jwt.jwks_file ${this.where} cannot be used: ${this.lastProblem}`);
    this.options.log.warn('the JWT signing keys cannot be fetched yet; tokens are refused (503) until they can', { jwks_url: this.where, problem: this.lastProblem });
  }

  /** jose's key lookup for jwtVerify, with the fetch policy above. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.keys) await this.refreshIfAllowed();
    const keys = this.keys;
    if (!keys) throw new KeysUnavailable(`the signing keys at ${this.where} cannot be loaded (${this.lastProblem})`);
    if (Date.now() - this.loadedAt > this.options.maxAgeMs) void this.refreshIfAllowed();
    try {
      return await keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !this.mayFetch()) throw err;
      await this.refresh();
      return this.keys!(header, token);
    }
  };

  private mayFetch(): boolean {
    return Date.now() - this.attemptedAt >= this.options.cooldownMs;
  }

  private async refreshIfAllowed(): Promise<void> {
    if (this.mayFetch() || this.pending) await this.refresh();
  }

  /** Loads the set once (concurrent callers share the load); a failure keeps the keys held. */
  private refresh(): Promise<void> {
    this.pending ??= this.loadOnce().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async loadOnce(): Promise<void> {
    this.attemptedAt = Date.now();
    try {
      this.keys = createLocalJWKSet(JSON.parse(await load(this.options.source)));
      this.loadedAt = Date.now();
      this.options.log.debug('loaded the JWT signing keys', { from: this.where });
    } catch (err) {
      this.lastProblem = (err as Error).message;
      if (this.keys) this.options.log.warn('cannot refresh the JWT signing keys; keeping the ones held', { from: this.where, problem: this.lastProblem });
    }
  }
}
