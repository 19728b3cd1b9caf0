// Client certificates (mTLS) as credentials. The HTTPS listener verifies a
// client's certificate against security.tls_client_ca during the handshake;
// this authenticator turns a verified one into the principal
// "cert:<sha256 of the certificate>", named after its subject. A connection
// without a certificate goes on to the next authenticator (API keys, JWTs,
// or the loopback default), so mTLS composes with the others; one whose
// certificate was presented but not verified (possible when client
// certificates are optional) is refused, never treated as anonymous.
import type { X509Certificate } from '../crypto.js';
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { HTTP_REFUSED } from '../protocol/jsonrpc.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import type { Authenticator } from './authenticate.js';
import type { Principal } from './principal.js';
import { fingerprintHex, notAfterMs, subjectLine } from './tls-material.js';

/** The principal a verified client certificate stands for. */
export function principalOfCertificate(certificate: X509Certificate, address?: string): Principal {
  return {
    id: `cert:${fingerprintHex(certificate)}`,
    kind: 'client-cert',
    name: subjectLine(certificate),
    scopes: new Set<string>(),
    expiresAt: notAfterMs(certificate),
    ...(address ? { address } : {}),
  };
}

/** One principal per connection: the certificate cannot change on it (renegotiation is off). */
const byConnection = new WeakMap<TLSSocket, Principal>();

function refuse(message: string): never {
  throw new HttpRefusal(403, HTTP_REFUSED, message);
}

/** The verified certificate's principal on `socket`, or undefined when the client presented none. */
function certificatePrincipal(socket: TLSSocket): Principal | undefined {
  const known = byConnection.get(socket);
  if (known) return known;
  const certificate = socket.getPeerX509Certificate();
  if (!certificate) return undefined;
  if (!socket.authorized) {
    refuse(`Forbidden: the client certificate "${subjectLine(certificate)}" was not accepted (${String(socket.authorizationError)}). Present one issued by the CA in the gateway's security.tls_client_ca, or none.`);
  }
  const principal = principalOfCertificate(certificate, socket.remoteAddress);
  byConnection.set(socket, principal);
  return principal;
}

/**
 * Authenticates by client certificate when the connection has one, else
 * asks `next`; with `required`, a request without one is refused (the
 * listener already drops such connections: this holds even if it did not).
 * A certificate that expires while its connection stays open stops
 * authenticating there.
 */
export function clientCertificateAuthenticator(next: Authenticator, options: { required: boolean }): Authenticator {
  return {
    authenticate(req: IncomingMessage) {
      const socket = req.socket;
      const principal = socket instanceof TLSSocket ? certificatePrincipal(socket) : undefined;
      if (!principal && options.required) refuse('Forbidden: this gateway requires a client certificate issued by the CA in its security.tls_client_ca.');
      if (!principal) return next.authenticate(req);
      if (principal.expiresAt !== undefined && principal.expiresAt < Date.now()) {
        refuse(`Forbidden: the client certificate "${principal.name}" expired at ${new Date(principal.expiresAt).toISOString()}; reconnect with a renewed one.`);
      }
      return principal;
    },
  };
}
