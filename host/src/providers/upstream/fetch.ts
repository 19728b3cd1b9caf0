// A fetch for upstream HTTP transports that gives every request its own abort
// signal. The SDK's client transports pass one connection-wide signal to every
// fetch; undici adds an abort listener to it per request and drops it only at
// garbage collection, so under steady traffic the shared signal collects
// thousands of listeners (MaxListenersExceededWarning, growing memory).
// Here the shared signal gets one short-lived bridge per request instead,
// removed when the request, or the event stream it returned, is done.
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

export const isolatingFetch: FetchLike = async (url, init) => {
  const parent = init?.signal;
  if (!parent) return fetch(url, init);
  const own = new AbortController();
  const bridge = () => own.abort(parent.reason);
  if (parent.aborted) bridge();
  else parent.addEventListener('abort', bridge, { once: true });
  const release = () => parent.removeEventListener('abort', bridge);
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: own.signal });
  } catch (err) {
    release();
    throw err;
  }
  const streaming = response.body && response.headers.get('content-type')?.includes('text/event-stream');
  if (!streaming) {
    release();
    return response;
  }
  // An event stream lives on after the headers: keep the bridge until it ends, so closing the transport still stops it.
  const body = response.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      flush: release,
    }),
  );
  own.signal.addEventListener('abort', release, { once: true });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
};
