// W3C trace context (traceparent, tracestate): taken from an incoming request
// (its MCP _meta, where a client puts it, else its HTTP headers) and put on
// the HTTP requests to upstreams made while a span is active. Without the
// telemetry export on, no span is ever active and nothing is added.
import { context, defaultTextMapGetter, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

const W3C = new W3CTraceContextPropagator();

type Carrier = Record<string, unknown>;

/** The remote parent of a request: from `_meta.traceparent` when the client sent one, else from the `traceparent` header. */
export function incomingContext(meta: Carrier | undefined, headers: Carrier | undefined): Context {
  const carrier = typeof meta?.traceparent === 'string' ? meta : headers;
  return carrier ? W3C.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter) : ROOT_CONTEXT;
}

/** `base` with the active span's traceparent (and tracestate) on each request. */
export function tracingFetch(base: FetchLike): FetchLike {
  return (url, init) => {
    const active = context.active();
    if (!trace.getSpanContext(active)) return base(url, init);
    const headers = new Headers(init?.headers);
    W3C.inject(active, headers, { set: (h, key, value) => h.set(key, value) });
    return base(url, { ...init, headers });
  };
}

/** `headers` with the active span's traceparent (and tracestate) added; the same object when no span is active. */
export function withTraceContext(headers: Record<string, string>): Record<string, string> {
  const active = context.active();
  if (!trace.getSpanContext(active)) return headers;
  const traced = { ...headers };
  W3C.inject(active, traced, { set: (h, key, value) => (h[key] = value) });
  return traced;
}
