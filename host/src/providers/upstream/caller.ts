// Which client gets a request an upstream sends on its own (sampling,
// elicitation, roots). Over a connection shared by several client sessions
// the wire does not say which call such a request belongs to. When every call
// in flight to the upstream comes from one session, that session is the
// answer (its newest call carries the request). When calls from several
// sessions are in flight, guessing could show one client another client's
// prompt, so the request is refused instead.
import type { ProviderCallContext } from '../provider.js';

type Channel = NonNullable<ProviderCallContext['client']>;

export type CallerChoice =
  | { kind: 'client'; client: Channel }
  | { kind: 'none' }
  | { kind: 'ambiguous'; sessions: number };

/** Picks the channel for an upstream's own request from the calls in flight (oldest first). */
export function chooseCaller(callers: readonly ProviderCallContext[]): CallerChoice {
  let newest: Channel | undefined;
  const sessions = new Set<string | undefined>();
  for (const caller of callers) {
    if (!caller.client) continue;
    newest = caller.client;
    // stdio serves a single client, whose requests carry no session id.
    sessions.add(caller.client.sessionId);
  }
  if (!newest) return { kind: 'none' };
  if (sessions.size > 1) return { kind: 'ambiguous', sessions: sessions.size };
  return { kind: 'client', client: newest };
}
