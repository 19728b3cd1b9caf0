// W3C trace context (traceparent, tracestate) of an incoming request: from its
// MCP _meta, where a client puts it, else its HTTP headers. Loaded with
// telemetry.ts only ([telemetry] on); what goes out to upstreams is in active-span.ts.
import { defaultTextMapGetter, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const W3C = new W3CTraceContextPropagator();

type Carrier = Record<string, unknown>;

/** The remote parent of a request: from `_meta.traceparent` when the client sent one, else from the `traceparent` header. */
export function incomingContext(meta: Carrier | undefined, headers: Carrier | undefined): Context {
  const carrier = typeof meta?.traceparent === 'string' ? meta : headers;
  return carrier ? W3C.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter) : ROOT_CONTEXT;
}
