// The configured authenticator: every request carries a bearer credential, an
// API key ("mcpe_...", checked against the database) or a JWT access token
// (checked against the issuer's keys), and it must hold the required scopes.
// Fast on the hot path: a key costs one primary-key read and one SHA-256, a
// token seen before one map lookup; only a new token costs a signature check.
import type { IncomingMessage } from 'node:http';
import type { AuthSettings } from '../config/resolve.js';
import type { Db } from '../storage/database.js';
import type { Logger } from '../telemetry/log.js';
import { ApiKeyStore, isApiKey, type ApiKeyRecord, type KeyVerdict } from './api-keys.js';
import { openAccess, type Authenticator, type CredentialState } from './authenticate.js';
import { AuthRefusal, bearerToken, Challenges, type AuthOutcome } from './challenge.js';
import type { SigningKeys } from './jwks.js';
import type { JwtVerifier } from './jwt.js';
import type { Principal } from './principal.js';
import { resourceMetadataUrl } from './resource-metadata.js';

/** Most addresses remembered per principal (accept). */
const MAX_ADDRESSES = 256;

const OUTCOMES: readonly AuthOutcome[] = ['ok', 'missing', 'malformed', 'invalid', 'expired', 'revoked', 'forbidden', 'unavailable'];

function newKeyPrincipal(key: ApiKeyRecord): Principal {
  return Object.freeze({ id: `key:${key.name}`, kind: 'api-key', name: key.name, scopes: new Set(key.scopes), ...(key.expiresAt !== undefined ? { expiresAt: key.expiresAt } : {}) });
}

/** JWT verification, when [auth.jwt] is on; `failure` tells its two refusals from other errors. */
interface JwtParts {
  verifier: JwtVerifier;
  keys: SigningKeys;
  failure: (err: unknown) => { rejected?: { expired: boolean; message: string }; unavailable?: { message: string } } | undefined;
}

export class CredentialAuthenticator implements Authenticator {
  /** Requests counted by outcome, for /metrics. */
  readonly outcomes: Record<AuthOutcome, number> = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<AuthOutcome, number>;
  private readonly challenges: Challenges;
  private readonly toleranceMs: number;
  /** One principal per key record (the store hands out the same record while the key is unchanged): no allocation per request. */
  private readonly keyPrincipals = new WeakMap<ApiKeyRecord, Principal>();
  /** Each principal with the address it called from, made once per address: every request of a session would otherwise copy it. */
  private readonly addressed = new WeakMap<Principal, Map<string, Principal>>();

  private constructor(
    private readonly settings: AuthSettings,
    private readonly keys: ApiKeyStore | undefined,
    private readonly jwt: JwtParts | undefined,
    private readonly log: Logger,
  ) {
    this.challenges = new Challenges(settings.jwt && settings.resource ? resourceMetadataUrl(settings.resource) : undefined);
    this.toleranceMs = (settings.jwt?.clockToleranceSeconds ?? 0) * 1000;
  }

  /** The authenticator `settings` ask for; loads the issuer's keys first when JWTs are on. */
  static async create(settings: AuthSettings, db: Db, log: Logger): Promise<CredentialAuthenticator> {
    const keys = settings.apiKeys ? new ApiKeyStore(db) : undefined;
    let jwt: JwtParts | undefined;
    if (settings.jwt) {
      const j = settings.jwt;
      // Loaded only when JWTs are on: they bring jose (~15 MB, ~30 ms to load).
      const [{ SigningKeys, KeysUnavailable }, { JwtVerifier, TokenRejected }] = await Promise.all([import('./jwks.js'), import('./jwt.js')]);
      const signing = new SigningKeys({ source: j.keys, maxAgeMs: j.keysMaxAgeMs, cooldownMs: j.keysCooldownMs, log });
      await signing.start();
      jwt = {
        verifier: new JwtVerifier(j, signing),
        keys: signing,
        failure: (err) => (err instanceof TokenRejected ? { rejected: err } : err instanceof KeysUnavailable ? { unavailable: err } : undefined),
      };
    }
    if (keys && keys.list().every((k) => k.revokedAt !== undefined)) log.warn('auth.api_keys is on but no key is active: create one with "mcp-edge keys create <name>"');
    return new CredentialAuthenticator(settings, keys, jwt, log);
  }

  authenticate(req: IncomingMessage): Principal | Promise<Principal> {
    try {
      const token = bearerToken(req.headers, this.challenges);
      const address = req.socket.remoteAddress;
      if (isApiKey(token)) return this.accept(this.keyPrincipal(token), address);
      if (!this.jwt) throw this.challenges.invalid('invalid', 'the token is not an API key of this gateway (those start with "mcpe_"), and it accepts no other tokens');
      const known = this.jwt.verifier.remembered(token);
      if (known) return this.accept(known, address);
      return this.verifyJwt(token, address);
    } catch (err) {
      throw this.counted(err, req.socket.remoteAddress);
    }
  }

  credentialState(principal: Principal, now: number): CredentialState {
    if (principal.kind === 'api-key') return this.keys?.status(principal.name, now) === 'active' ? 'valid' : 'ended';
    if (principal.kind === 'jwt' && principal.expiresAt !== undefined && principal.expiresAt + this.toleranceMs <= now) return 'lapsed';
    return 'valid';
  }

  private keyPrincipal(token: string): Principal {
    if (!this.keys) throw this.challenges.invalid('invalid', 'API keys are not enabled on this gateway (auth.api_keys)');
    const key = this.verdictKey(this.keys.verify(token));
    let principal = this.keyPrincipals.get(key);
    if (!principal) {
      principal = newKeyPrincipal(key);
      this.keyPrincipals.set(key, principal);
    }
    return principal;
  }

  private verdictKey(verdict: KeyVerdict): ApiKeyRecord {
    if (verdict.ok) return verdict.key;
    const name = verdict.key?.name;
    switch (verdict.problem) {
      case 'malformed':
        throw this.challenges.invalid('invalid', 'the API key is malformed: it should be "mcpe_" followed by what "mcp-edge keys create" printed');
      case 'unknown':
        throw this.challenges.invalid('invalid', 'the API key is not known to this gateway');
      case 'revoked':
        throw this.challenges.invalid('revoked', `the API key "${name}" has been revoked; ask for a new one`);
      case 'expired':
        throw this.challenges.invalid('expired', `the API key "${name}" expired on ${new Date(verdict.key?.expiresAt ?? 0).toISOString()}; ask for a new one`);
    }
  }

  private async verifyJwt(token: string, address: string | undefined): Promise<Principal> {
    const jwt = this.jwt!;
    try {
      return this.accept(await jwt.verifier.verify(token), address);
    } catch (err) {
      const failure = jwt.failure(err);
      if (failure?.rejected) throw this.counted(this.challenges.invalid(failure.rejected.expired ? 'expired' : 'invalid', failure.rejected.message), address);
      if (failure?.unavailable) throw this.counted(this.challenges.unavailable(failure.unavailable.message, jwt.keys.retryAfterSeconds), address);
      throw this.counted(err, address);
    }
  }

  /** The principal, if it holds the required scopes, with the address it called from. */
  private accept(principal: Principal, address: string | undefined): Principal {
    const missing = this.settings.requiredScopes.filter((s) => !principal.scopes.has(s));
    if (missing.length > 0) throw this.challenges.insufficientScope(this.settings.requiredScopes);
    this.outcomes.ok += 1;
    return address ? this.withAddress(principal, address) : principal;
  }

  private withAddress(principal: Principal, address: string): Principal {
    let byAddress = this.addressed.get(principal);
    if (!byAddress) {
      byAddress = new Map();
      this.addressed.set(principal, byAddress);
    }
    let addressed = byAddress.get(address);
    if (!addressed) {
      // Bounded: a principal calling from ever new addresses starts the map over.
      if (byAddress.size >= MAX_ADDRESSES) byAddress.clear();
      addressed = Object.freeze({ ...principal, address });
      byAddress.set(address, addressed);
    }
    return addressed;
  }

  /** Counts and logs a refusal (each passes here once: the async path's rejections never reach authenticate's catch). */
  private counted(err: unknown, address: string | undefined): unknown {
    if (err instanceof AuthRefusal) {
      this.outcomes[err.outcome] += 1;
      this.log.debug('refused a request', { outcome: err.outcome, reason: err.message, address });
    }
    return err;
  }
}

/** The gateway's authenticator: open access when no authentication is configured, else the configured credentials. */
export async function createAuthenticator(settings: AuthSettings, db: Db, log: Logger): Promise<{ authenticator: Authenticator; credentials?: CredentialAuthenticator }> {
  if (!settings.apiKeys && !settings.jwt) return { authenticator: openAccess };
  const credentials = await CredentialAuthenticator.create(settings, db, log);
  return { authenticator: credentials, credentials };
}
