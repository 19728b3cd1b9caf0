// A fetch for upstream HTTP transports that gives every request its own abort
// signal. The SDK's client transports pass one connection-wide signal to every
// fetch; undici adds an abort listener to it per request and drops it only at
// garbage collection, so under steady traffic the shared signal collects
// thousands of listeners (MaxListenersExceededWarning, growing memory).
// Here each request gets its own signal, and the shared one carries a single
// listener however many requests are in flight (it fans out to them), removed
// when the last of them, or the event stream it returned, is done.
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { boundedMessages } from '../../protocol/bounded-body.js';

interface Followers {
  members: Set<AbortController>;
  onAbort: () => void;
}

const followed = new WeakMap<AbortSignal, Followers>();

/** A signal that aborts with `parent`, and the function that lets go of it. */
function follow(parent: AbortSignal): { signal: AbortSignal; release: () => void } {
  const own = new AbortController();
  if (parent.aborted) {
    own.abort(parent.reason);
    return { signal: own.signal, release: () => undefined };
  }
  let followers = followed.get(parent);
  if (!followers) {
    const members = new Set<AbortController>();
    const onAbort = () => {
      followed.delete(parent);
      for (const member of members) member.abort(parent.reason);
      members.clear();
    };
    followers = { members, onAbort };
    followed.set(parent, followers);
    parent.addEventListener('abort', onAbort, { once: true });
  }
  const { members, onAbort } = followers;
  members.add(own);
  const release = () => {
    if (!members.delete(own) || members.size > 0) return;
    parent.removeEventListener('abort', onAbort);
    followed.delete(parent);
  };
  return { signal: own.signal, release };
}

/**
 * fetch rejects with "fetch failed" and keeps the reason in `cause`: a
 * certificate it could not verify, a name that does not match, a refused
 * connection. The reason goes into the message, which the upstream's
 * /health detail and the queue's last_error show.
 */
export function explainFetchFailure(err: unknown): unknown {
  if (!(err instanceof TypeError) || err.message !== 'fetch failed' || !(err.cause instanceof Error)) return err;
  const cause = err.cause as NodeJS.ErrnoException;
  const code = cause.code && !cause.message.includes(cause.code) ? ` (${cause.code})` : '';
  return new TypeError(`fetch failed: ${cause.message}${code}`, { cause });
}

/**
 * undici's request API (lean-http.ts) throws the reason itself; it is told
 * the way fetch failures are, so /health reads the same whichever made the request.
 */
export function explainRequestFailure(err: unknown): unknown {
  if (!(err instanceof Error) || typeof (err as NodeJS.ErrnoException).code !== 'string') return err;
  return explainFetchFailure(new TypeError('fetch failed', { cause: err }));
}

/**
 * `base` (the global fetch, or one with its own TLS settings) with a signal
 * of its own per request, and its answers bounded (bounded-body.ts): the
 * SDK's client transport reads them without end.
 */
export const isolating = (base: FetchLike): FetchLike => async (url, init) => {
  const what = `the answer of ${urlText(url)}`;
  const parent = init?.signal;
  if (!parent) {
    const response = await base(url, init).catch((err: unknown) => Promise.reject(explainFetchFailure(err)));
    return boundedMessages(response, what);
  }
  const { signal, release } = follow(parent);
  let response: Response;
  try {
    response = await base(url, { ...init, signal });
  } catch (err) {
    release();
    throw explainFetchFailure(err);
  }
  const streaming = response.body && response.headers.get('content-type')?.includes('text/event-stream');
  if (!streaming) {
    release();
    return boundedMessages(response, what);
  }
  // An event stream lives on after the headers: keep following until it ends, so closing the transport still stops it.
  signal.addEventListener('abort', release, { once: true });
  return boundedMessages(response, what, release);
};

/** The URL a request went to, for a message: without credentials or query, which may carry a token. */
function urlText(url: string | URL): string {
  try {
    const shown = new URL(url);
    shown.username = '';
    shown.password = '';
    shown.search = '';
    shown.hash = '';
    return shown.href;
  } catch {
    return 'an upstream';
  }
}

/** The global fetch, isolated. */
export const isolatingFetch: FetchLike = isolating(fetch);
