// DNS-rebinding protection: a browser page on evil.example can resolve its own
// name to 127.0.0.1 and reach a local gateway. Such requests carry a foreign
// Host (and usually Origin) header, so both are checked on every request.
// Host and Authorization must come once: Node reads the first of each and
// drops the rest, and a proxy in front that read another one would judge a
// different request than the gateway serves (RFC 9112 answers 400 to a
// second Host).
import type { IncomingMessage } from 'node:http';

export interface GuardOptions {
  /** The address the gateway listens on, "host:port". */
  bindAddress: string;
  /** The port actually bound (differs from bindAddress when it asked for port 0). */
  port: number;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

export type GuardVerdict = { ok: true } | { ok: false; status: 400 | 403; reason: string };

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

/** The first of Host and Authorization that `raw` (name, value, name, value...) carries more than once. */
function repeated(raw: readonly string[]): 'Host' | 'Authorization' | undefined {
  let hosts = 0;
  let authorizations = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Most names are neither: their length says so without lowering their case.
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return 'Host';
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++authorizations > 1) return 'Authorization';
  }
  return undefined;
}

/** Checks the Host and Origin headers of one request. */
export function checkRequest(req: IncomingMessage, hosts: Set<string>, options: GuardOptions): GuardVerdict {
  const twice = repeated(req.rawHeaders);
  if (twice) return { ok: false, status: 400, reason: `Bad Request: the ${twice} header must be sent once; this request has more than one.` };
  const host = req.headers.host;
  if (!host || !hosts.has(host.toLowerCase())) {
    return { ok: false, status: 403, reason: `Host header "${host ?? ''}" is not allowed. Add it to gateway.allowed_hosts if this is intended.` };
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
  return { ok: false, status: 403, reason: `Origin "${origin}" is not allowed. Add it to gateway.allowed_origins if this is intended.` };
}
