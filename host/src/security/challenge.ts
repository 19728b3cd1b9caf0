// How the gateway refuses a caller, in the words of RFC 6750 (bearer tokens)
// and RFC 9728 (protected resource metadata), as MCP authorization asks: 401
// with a WWW-Authenticate challenge that points an OAuth client at the
// resource metadata, 400 for a malformed Authorization header, 403
// insufficient_scope naming the scope to ask for. The JSON-RPC body says the
// same in words for people.
import type { IncomingHttpHeaders } from 'node:http';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { HTTP_REFUSED } from '../protocol/jsonrpc.js';

/** Why a request was refused, as counted in /metrics (mcp_edge_auth_total). */
export type AuthOutcome = 'ok' | 'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked' | 'forbidden' | 'unavailable';

/** A refusal that knows which outcome it counts as. */
export class AuthRefusal extends HttpRefusal {
  constructor(
    readonly outcome: Exclude<AuthOutcome, 'ok'>,
    status: number,
    message: string,
    headers: Record<string, string>,
  ) {
    super(status, HTTP_REFUSED, message, headers);
  }
}

/** A value fit for a quoted-string in the header (RFC 6750 leaves out " and \\): double quotes become single ones, backslashes and control characters spaces. */
function quoted(value: string): string {
  return `"${value.replace(/"/g, "'").replace(/[\\\x00-\x1f\x7f]/g, ' ')}"`;
}

const HOW_TO_SEND = 'Send "Authorization: Bearer <API key or access token>".';

/** Builds the refusals of one gateway: every challenge names its realm and, with OAuth on, the resource metadata. */
export class Challenges {
  private readonly base: string;

  constructor(resourceMetadataUrl: string | undefined) {
    this.base = `Bearer realm="mcp-edge"${resourceMetadataUrl ? `, resource_metadata=${quoted(resourceMetadataUrl)}` : ''}`;
  }

  private challenge(params: Record<string, string>): Record<string, string> {
    const extra = Object.entries(params).map(([k, v]) => `, ${k}=${quoted(v)}`);
    return { 'www-authenticate': this.base + extra.join('') };
  }

  /** No credentials, or another scheme than Bearer: no error code (RFC 6750 section 3.1). */
  missing(detail: string): AuthRefusal {
    return new AuthRefusal('missing', 401, `Unauthorized: ${detail} ${HOW_TO_SEND}`, this.challenge({}));
  }

  /** The Authorization header is not a well-formed bearer credential. */
  malformed(detail: string): AuthRefusal {
    return new AuthRefusal('malformed', 400, `Bad Request: ${detail} ${HOW_TO_SEND}`, this.challenge({ error: 'invalid_request', error_description: detail }));
  }

  /** The credential is not valid: unknown, badly signed, for another audience, expired, revoked. */
  invalid(outcome: 'invalid' | 'expired' | 'revoked', detail: string): AuthRefusal {
    return new AuthRefusal(outcome, 401, `Unauthorized: ${detail}`, this.challenge({ error: 'invalid_token', error_description: detail }));
  }

  /** Valid, but lacking scopes: the client may ask its authorization server for `scopes` (step-up). */
  insufficientScope(scopes: readonly string[]): AuthRefusal {
    const list = scopes.join(' ');
    const detail = `this request needs the scope${scopes.length > 1 ? 's' : ''} ${list}`;
    return new AuthRefusal('forbidden', 403, `Forbidden: ${detail}; ask for a credential that grants ${scopes.length > 1 ? 'them' : 'it'}.`, this.challenge({ error: 'insufficient_scope', scope: list, error_description: detail }));
  }

  /** The gateway cannot check tokens now (its issuer's keys cannot be fetched): the gateway's trouble, not the client's. */
  unavailable(detail: string, retryAfterSeconds: number): AuthRefusal {
    return new AuthRefusal('unavailable', 503, `Service Unavailable: ${detail}; try again later.`, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

/** b64token (RFC 6750 section 2.1): what a bearer credential may consist of. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The bearer credential of a request; throws the refusal that fits when there is none or it is malformed. */
export function bearerToken(headers: IncomingHttpHeaders, challenges: Challenges): string {
  const header = headers.authorization;
  // What clients send: "Bearer <token>", nothing around it; the general path below decides everything else the same way.
  if (header?.startsWith('Bearer ')) {
    const token = header.slice(7);
    if (B64TOKEN.test(token)) return token;
  }
  if (header === undefined || header.trim() === '') throw challenges.missing('this gateway needs credentials.');
  const [scheme = '', ...rest] = header.trim().split(/ +/);
  if (scheme.toLowerCase() !== 'bearer') throw challenges.missing(`the Authorization header uses the ${scheme.slice(0, 20)} scheme; this gateway takes Bearer.`);
  if (rest.length !== 1 || !B64TOKEN.test(rest[0] ?? '')) throw challenges.malformed('the Authorization header must be "Bearer" and one token, with no other text.');
  return rest[0]!;
}

/**
 * The request's headers without its credentials, for the MCP layer: a
 * client's token must never reach a provider, let alone an upstream.
 */
export function withoutCredentials(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  if (headers.authorization === undefined && headers.cookie === undefined) return headers;
  const { authorization: _token, cookie: _cookie, ...rest } = headers;
  return rest;
}
