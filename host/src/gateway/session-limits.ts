// How many MCP sessions one client may hold, and which session gives way.
// One client once opened every session the gateway allows and locked everyone
// out with 503 for half an hour. Now:
// - each principal, and each remote address, may hold only so many sessions
//   (gateway.max_sessions_per_principal, max_sessions_per_address; 429 with
//   Retry-After beyond). The loopback principal of a gateway without
//   authentication is every local client at once, and a loopback address is
//   every local program (or a proxy on the same machine), so neither is
//   counted: there, only the total and the rules below apply;
// - a session that sent no request since initialize closes after
//   gateway.session_unused_seconds, one idle (no call, no GET stream) after
//   gateway.session_idle_seconds;
// - at the total (max_connections) a newcomer takes the place of the idlest
//   session: never used first, then the one idle longest. Only when every
//   session is in use is the newcomer refused (503).
import { HttpRefusal } from '../protocol/http-refusal.js';
import { HTTP_REFUSED } from '../protocol/jsonrpc.js';
import type { SessionSettings as SessionLimits } from '../config/resolve.js';
import type { Principal } from '../security/principal.js';

export type { SessionLimits };

/** What the limits look at in a session. */
export interface SessionUse {
  /** The principal id it counts against; undefined when not counted (the shared loopback principal). */
  quotaPrincipal: string | undefined;
  /** The remote address it counts against; undefined when not counted (loopback). */
  address: string | undefined;
  openedAt: number;
  /** Whether it sent a request after initialize. */
  requested: boolean;
  transport: { readonly idle: boolean; readonly lastSeen: number };
}

/** Whether `address` is this machine: 127.0.0.0/8, ::1, or either mapped into IPv6. */
export function isLoopback(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || plain.startsWith('127.');
}

/** What a new session of `principal`, from `socketAddress`, counts against. */
export function countedAs(principal: Principal, socketAddress: string | undefined): { quotaPrincipal: string | undefined; address: string | undefined } {
  const address = principal.address ?? socketAddress;
  return {
    quotaPrincipal: principal.kind === 'local' ? undefined : principal.id,
    address: address === undefined || isLoopback(address) ? undefined : address.replace(/^::ffff:/, ''),
  };
}

/** When the session is due to close (ms since epoch), or undefined while it is in use or no limit applies. */
export function closesAt(session: SessionUse, limits: SessionLimits): number | undefined {
  if (!session.requested && limits.unusedMs > 0) return session.openedAt + limits.unusedMs;
  if (session.transport.idle && limits.idleMs > 0) return session.transport.lastSeen + limits.idleMs;
  return undefined;
}

/** Seconds until one of `sessions` is due to close (at least 1); the idle limit, or a minute, when none is. */
function retryAfter(sessions: SessionUse[], limits: SessionLimits, now: number): string {
  const due = sessions.map((s) => closesAt(s, limits)).filter((t): t is number => t !== undefined);
  const ms = due.length > 0 ? Math.min(...due) - now : limits.idleMs || 60_000;
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/** The refusal of a new session that would pass its principal's or its address's cap, or undefined. */
export function quotaRefusal(sessions: Iterable<SessionUse>, newcomer: Pick<SessionUse, 'quotaPrincipal' | 'address'>, limits: SessionLimits, now = Date.now()): HttpRefusal | undefined {
  const all = [...sessions];
  const checks = [
    { key: newcomer.quotaPrincipal, of: (s: SessionUse) => s.quotaPrincipal, cap: limits.perPrincipal, who: 'this principal', setting: 'gateway.max_sessions_per_principal' },
    { key: newcomer.address, of: (s: SessionUse) => s.address, cap: limits.perAddress, who: `address ${newcomer.address}`, setting: 'gateway.max_sessions_per_address' },
  ];
  for (const { key, of, cap, who, setting } of checks) {
    if (key === undefined) continue;
    const own = all.filter((s) => of(s) === key);
    if (own.length < cap) continue;
    return new HttpRefusal(
      429,
      HTTP_REFUSED,
      `Too many sessions: ${who} already holds ${own.length} (${setting}). Reuse one, or end one you no longer need with DELETE /mcp.`,
      { 'retry-after': retryAfter(own, limits, now) },
    );
  }
  return undefined;
}

/** The session to close for a newcomer when the gateway is full: never used, oldest first; then idle longest. Undefined when all are in use. */
export function idlest<S extends SessionUse>(sessions: Iterable<S>): S | undefined {
  let unused: S | undefined;
  let idle: S | undefined;
  for (const s of sessions) {
    if (!s.requested) {
      if (!unused || s.openedAt < unused.openedAt) unused = s;
    } else if (s.transport.idle && (!idle || s.transport.lastSeen < idle.transport.lastSeen)) {
      idle = s;
    }
  }
  return unused ?? idle;
}
