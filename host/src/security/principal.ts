// Who is calling. Every request the gateway serves is made by a principal,
// established before any route runs (security/authenticate.ts) and bound to
// the MCP session it opens: later requests of that session must come from the
// same principal. Policy, rate limits and the audit log all key on it.

/** How the principal proved who it is. */
export type PrincipalKind = 'local' | 'api-key' | 'jwt' | 'client-cert';

export interface Principal {
  /**
   * Stable and unique across kinds, e.g. "local:stdio", "local:loopback",
   * "key:<name>", "jwt:<issuer>|<subject>", "cert:<sha256 fingerprint>".
   */
  readonly id: string;
  readonly kind: PrincipalKind;
  /** For people and logs: the key's name, the token's subject, the certificate's subject. */
  readonly name: string;
  /** What its credential grants (an API key's scopes, a JWT's scope claim); empty for local principals. */
  readonly scopes: ReadonlySet<string>;
  /** When its credential stops being valid, in ms since epoch; absent when it does not expire. */
  readonly expiresAt?: number;
  /** The remote address of the connection it came on; absent over stdio. */
  readonly address?: string;
}

/** The scopes of local principals: none. One set for all of them (scopes are read-only), not one per request. */
const NO_SCOPES: ReadonlySet<string> = new Set<string>();

/** The process that started the gateway over stdio (Claude Desktop): it owns the gateway. */
export const STDIO_PRINCIPAL: Principal = Object.freeze({ id: 'local:stdio', kind: 'local', name: 'stdio', scopes: NO_SCOPES });

/** A caller on a loopback address, on a gateway configured without authentication (the zero-config default). */
export function loopbackPrincipal(address: string | undefined): Principal {
  if (!address) return { id: 'local:loopback', kind: 'local', name: 'loopback', scopes: NO_SCOPES };
  return { id: 'local:loopback', kind: 'local', name: 'loopback', scopes: NO_SCOPES, address };
}
