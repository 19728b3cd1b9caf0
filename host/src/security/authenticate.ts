// The gateway's front door: every HTTP request (but the routes marked public in
// gateway/routes.ts) is authenticated before it is routed, and the principal
// it yields travels with the request into the route's handler and the MCP
// session. An authenticator refuses with an HttpRefusal (401 or 403, with the
// WWW-Authenticate header the client needs); it never passes a request through
// unauthenticated.
import type { IncomingMessage } from 'node:http';
import { loopbackPrincipal, type Principal } from './principal.js';

/**
 * Whether the credential an open session was last used with still holds:
 * `lapsed` when it expired but the principal may come back with a new one
 * (a refreshed JWT), `ended` when the principal can never authenticate
 * again (a revoked or expired API key).
 */
export type CredentialState = 'valid' | 'lapsed' | 'ended';

export interface Authenticator {
  /** The principal making `req`; throws an HttpRefusal saying why when there is none. */
  authenticate(req: IncomingMessage): Promise<Principal> | Principal;
  /** Checks again the credential `principal` authenticated with; absent when credentials never change (open access). */
  credentialState?(principal: Principal, now: number): CredentialState;
}

/**
 * No credentials asked: every caller is the loopback principal. The gateway
 * uses it only when no authentication is configured, which is allowed only on
 * a loopback bind address.
 */
export const openAccess: Authenticator = {
  authenticate: (req) => loopbackPrincipal(req.socket.remoteAddress),
};
