// Loopback without authentication is the zero-config default; a gateway that
// other machines can reach must ask who is calling. This check runs at every
// start: a non-loopback bind address with no authentication configured stops
// the gateway with what to do, unless the operator wrote
// auth.allow_unauthenticated = true, which is then warned about at every start.
import { isIP } from 'node:net';
import { ConfigError } from '../config/load.js';
import type { AuthSettings } from '../config/resolve.js';
import type { Logger } from '../telemetry/log.js';

/** Whether any way of authenticating callers is configured: credentials, or client certificates every connection must present. */
export function authenticationConfigured(auth: AuthSettings, clientCertificates: 'required' | 'optional' | 'off' = 'off'): boolean {
  return auth.apiKeys || auth.jwt !== undefined || clientCertificates === 'required';
}

/** Whether only this machine can reach `host` (a bind address without brackets or port). */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase();
  if (lower === 'localhost' || lower === '::1') return true;
  const v4 = lower.startsWith('::ffff:') ? lower.slice(7) : lower;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

const HOW_TO_CONFIGURE = `Configure authentication in mcp-edge.toml, for example:
  [auth]
  api_keys = true        # then create a key: mcp-edge keys create <name>
or [auth.jwt] for OAuth access tokens, or client certificates with
security.tls_client_ca and security.tls_client_auth = "required"
(docs/security.md). Or bind to 127.0.0.1.
On a network you trust completely, auth.allow_unauthenticated = true serves it
open (with a warning at every start).`;

/** Refuses (ConfigError) an open gateway on a reachable address; warns when the operator chose that. */
export function checkExposure(bindAddress: string, host: string, auth: AuthSettings, clientCertificates: 'required' | 'optional' | 'off', log: Logger): void {
  if (isLoopbackHost(host) || authenticationConfigured(auth, clientCertificates)) return;
  if (!auth.allowUnauthenticated) {
    throw new ConfigError(`gateway.bind_address ${bindAddress} can be reached from other machines, and no authentication is configured: anyone who reaches the port could call every tool. ${HOW_TO_CONFIGURE}`);
  }
  log.warn(`serving ${bindAddress} WITHOUT authentication (auth.allow_unauthenticated = true): anyone who can reach this port can call every tool. Configure [auth] (docs/security.md).`);
}
