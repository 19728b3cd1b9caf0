// JWT access tokens from an OAuth 2.1 authorization server, verified with
// jose against the issuer's keys (security/jwks.ts): signature, algorithm
// allowlist (asymmetric only, so no HS/RS confusion; `none` is never
// accepted by jwtVerify), issuer, audience (the gateway's own resource URI,
// RFC 8707: a token minted for another service is refused), expiry and
// not-before with a small tolerance, and a subject.
//
// A verified token is remembered until it expires, so a client's later
// requests cost a map lookup instead of a signature check. The memory is
// bounded (the oldest entry goes first) and holds only tokens that verified.
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { JwtSettings } from '../config/resolve.js';
import type { Principal } from './principal.js';
import type { SigningKeys } from './jwks.js';

/** A token that does not authenticate, and why (in words a client's developer can act on). */
export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
  constructor(
    readonly expired: boolean,
    message: string,
  ) {
    super(message);
  }
}

/** Verified tokens kept at most; a few MiB at worst. */
export const TOKEN_CACHE_ENTRIES = 4096;

/** The scopes a token grants: `scope` (RFC 9068: space-separated) or `scp` (an array, or a string, in some IdPs). */
function scopesOf(payload: JWTPayload): Set<string> {
  const claim = payload.scope ?? payload.scp;
  if (typeof claim === 'string') return new Set(claim.split(' ').filter(Boolean));
  if (Array.isArray(claim)) return new Set(claim.filter((s): s is string => typeof s === 'string'));
  return new Set();
}

/** jose's reasons, said for the client. */
function rejection(err: unknown, settings: JwtSettings): TokenRejected {
  if (err instanceof errors.JWTExpired) return new TokenRejected(true, 'the access token has expired; get a new one from the authorization server');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'aud' && err.reason === 'missing') return new TokenRejected(false, `the access token has no audience (aud); request one for ${settings.audience} (the "resource" parameter, RFC 8707)`);
    if (claim === 'aud') return new TokenRejected(false, `the access token is for another resource; request one for ${settings.audience} (the "resource" parameter, RFC 8707)`);
    if (claim === 'iss') return new TokenRejected(false, `the access token was not issued by ${settings.issuer}`);
    if (claim === 'nbf') return new TokenRejected(false, 'the access token is not valid yet (nbf is in the future)');
    return new TokenRejected(false, `the access token's "${claim}" claim is missing or invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenRejected(false, `the access token's signature algorithm is not accepted here (accepted: ${settings.algorithms.join(', ')})`);
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenRejected(false, "no signing key of the issuer matches the access token's key id (kid)");
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenRejected(false, 'the access token signature does not verify');
  return new TokenRejected(false, 'the access token is not a valid JWT');
}

interface Verified {
  principal: Principal;
  /** When it stops being accepted, tolerance included (ms since epoch). */
  until: number;
}

export class JwtVerifier {
  private readonly verified = new Map<string, Verified>();
  private readonly toleranceMs: number;

  constructor(
    private readonly settings: JwtSettings,
    private readonly keys: SigningKeys,
  ) {
    this.toleranceMs = settings.clockToleranceSeconds * 1000;
  }

  /** A token verified before and not expired since, or undefined. */
  remembered(token: string, now = Date.now()): Principal | undefined {
    const hit = this.verified.get(token);
    if (!hit) return undefined;
    if (hit.until > now) return hit.principal;
    this.verified.delete(token);
    return undefined;
  }

  /** Verifies `token`; throws TokenRejected, or KeysUnavailable when the keys cannot be loaded. */
  async verify(token: string): Promise<Principal> {
    const known = this.remembered(token);
    if (known) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.getKey, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: [...this.settings.algorithms],
        clockTolerance: this.settings.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof errors.JOSEError) throw rejection(err, this.settings);
      throw err;
    }
    const principal = this.principalOf(payload);
    this.remember(token, { principal, until: (payload.exp ?? 0) * 1000 + this.toleranceMs });
    return principal;
  }

  private principalOf(payload: JWTPayload): Principal {
    const subject = String(payload.sub);
    return Object.freeze({
      id: `jwt:${this.settings.issuer}|${subject}`,
      kind: 'jwt',
      name: subject,
      scopes: scopesOf(payload),
      expiresAt: (payload.exp ?? 0) * 1000,
    });
  }

  private remember(token: string, entry: Verified): void {
    if (this.verified.size >= TOKEN_CACHE_ENTRIES) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(token, entry);
  }

  /** How many verified tokens are remembered now. */
  get cachedTokens(): number {
    return this.verified.size;
  }
}
