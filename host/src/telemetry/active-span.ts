// The active OpenTelemetry span, as log lines (log.ts) and the HTTP requests to
// upstreams (W3C traceparent, tracestate) carry it. No span can be active until
// a context manager is registered: by [telemetry] (telemetry.ts), or by a
// program that embeds the gateway and set up OpenTelemetry of its own. Until
// then the API (51 modules) and the W3C propagator (@opentelemetry/core) stay
// unloaded: a gateway without telemetry never pays for them at start
// (bench/startup/README.md). They load synchronously (a log line cannot wait),
// through require: their CommonJS copies share the registered globals with the
// ES module copies telemetry.ts imports (one global object, keyed by a Symbol.for).
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

/** Where @opentelemetry/api 1.x keeps what was registered (the context manager under `context`), whichever copy registered it. */
const OTEL_GLOBALS = Symbol.for('opentelemetry.js.api.1');
const require = createRequire(import.meta.url);

let api: typeof OtelApi | undefined;
let w3c: W3CTraceContextPropagator | undefined;

/** The OpenTelemetry API once a context manager is registered; before that every context is the root one, which holds no span. */
function contextApi(): typeof OtelApi | undefined {
  if (api) return api;
  const globals = (globalThis as Record<symbol, { context?: unknown } | undefined>)[OTEL_GLOBALS];
  if (globals?.context === undefined) return undefined;
  return (api = require('@opentelemetry/api') as typeof OtelApi);
}

/** The active context and its span, when a span is active. */
function active(): { context: OtelApi.Context; span: OtelApi.SpanContext } | undefined {
  const otel = contextApi();
  if (!otel) return undefined;
  const context = otel.context.active();
  const span = otel.trace.getSpanContext(context);
  return span ? { context, span } : undefined;
}

/** The active span's ids, for a log line; undefined when none is active. */
export function activeSpan(): { traceId: string; spanId: string } | undefined {
  const span = active()?.span;
  return span ? { traceId: span.traceId, spanId: span.spanId } : undefined;
}

function propagator(): W3CTraceContextPropagator {
  if (w3c) return w3c;
  const { W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  return (w3c = new W3CTraceContextPropagator());
}

/** `base` with the active span's traceparent (and tracestate) on each request. */
export function tracingFetch(base: FetchLike): FetchLike {
  return (url, init) => {
    const now = active();
    if (!now) return base(url, init);
    const headers = new Headers(init?.headers);
    propagator().inject(now.context, headers, { set: (h, key, value) => h.set(key, value) });
    return base(url, { ...init, headers });
  };
}

/** `headers` with the active span's traceparent (and tracestate) added; the same object when no span is active. */
export function withTraceContext(headers: Record<string, string>): Record<string, string> {
  const now = active();
  if (!now) return headers;
  const traced = { ...headers };
  propagator().inject(now.context, traced, { set: (h, key, value) => (h[key] = value) });
  return traced;
}
