// DNS-rebinding protection: a browser page on evil.example can resolve its own
// name to 127.0.0.1 and reach a local gateway. Such requests carry a foreign
// Host (and usually Origin) header, so both are checked on every request.
import type { IncomingMessage } from 'node:http';

export interface GuardOptions {
  /** The address the gateway listens on, "host:port". */
  bindAddress: string;
  /** The port actually bound (differs from bindAddress when it asked for port 0). */
  port: number;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

export type GuardVerdict = { ok: true } | { ok: false; reason: string };

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The Host header values (with port) that this gateway answers to. */
export function allowedHostValues(options: GuardOptions): Set<string> {
  const bindHost = options.bindAddress.slice(0, options.bindAddress.lastIndexOf(':'));
  const names = new Set([...LOOPBACK_NAMES, ...options.allowedHosts]);
  if (bindHost !== '0.0.0.0' && bindHost !== '[::]') names.add(bindHost);
  const values = new Set<string>();
  for (const name of names) {
    values.add(name.includes(':') && !name.startsWith('[') ? name : `${name}:${options.port}`);
    if (options.allowedHosts.includes(name)) values.add(name);
  }
  return values;
}

/** Checks the Host and Origin headers of one request. */
export function checkRequest(req: IncomingMessage, hosts: Set<string>, options: GuardOptions): GuardVerdict {
  const host = req.headers.host;
  if (!host || !hosts.has(host.toLowerCase())) {
    return { ok: false, reason: `Host header "${host ?? ''}" is not allowed. Add it to gateway.allowed_hosts if this is intended.` };
  }
  const origin = req.headers.origin;
  if (origin === undefined) return { ok: true };
  if (options.allowedOrigins.includes(origin)) return { ok: true };
  try {
    const url = new URL(origin);
    if (hosts.has(url.host.toLowerCase())) return { ok: true };
  } catch {
    // An unparsable Origin is refused below.
  }
  return { ok: false, reason: `Origin "${origin}" is not allowed. Add it to gateway.allowed_origins if this is intended.` };
}
