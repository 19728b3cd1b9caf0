// Traces and metrics over OpenTelemetry ([telemetry]): a span for each MCP
// request the gateway serves (tools/call, resources/read, prompts/get) with
// the remote parent the client sent, a child span per provider tried, and
// call counts and durations as OTel metrics; both exported over OTLP/HTTP to
// every configured endpoint at export_interval_seconds, through the outage
// buffer (otlp.ts, buffer.ts).
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Histogram, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Algorithm, Codec } from '../core/codec.js';
import type { CallRouting } from '../providers/provider.js';
import type { Db } from '../storage/database.js';
import { VERSION } from '../version.js';
import { TelemetryBuffer } from './buffer.js';
import type { Logger } from './log.js';
import { writeMetric } from './metrics.js';
import { BufferedMetricExporter, BufferedSpanExporter, OtlpTarget } from './otlp.js';
import { incomingContext } from './propagation.js';

export interface TelemetrySettings {
  enabled: boolean;
  /** Collector base URLs; /v1/traces and /v1/metrics are appended. */
  endpoints: readonly string[];
  exportIntervalMs: number;
  /** How buffered batches are stored. */
  algorithm: Algorithm;
  bufferMaxBytes: number;
}

/** One MCP request, as the span describes it. */
export interface TracedRequest {
  method: 'tools/call' | 'resources/read' | 'prompts/get';
  /** The tool, resource URI or prompt. */
  target: string;
  /**
   * The target as the request metrics label it, read when the request ends:
   * a name the gateway knows, or a placeholder. The client chooses the
   * target; a label per made-up name grew the series without end.
   */
  series: () => string;
  principal: string;
  session: string | undefined;
  /** The request's _meta (a client may carry traceparent there). */
  meta: Record<string, unknown> | undefined;
  /** The HTTP request's headers (absent over stdio). */
  headers: Record<string, unknown> | undefined;
}

/** Most series of the request metrics: a bound on memory and on what the collector is sent, whatever the labels. */
export const MAX_CALL_SERIES = 1000;
/** The target label of the requests past MAX_CALL_SERIES. */
export const OTHER_TARGET = '(other)';

/** What the gateway's gauges read when metrics are collected. */
export interface TelemetryGauges {
  sessions(): number;
}

let contextManager: AsyncLocalStorageContextManager | undefined;

/** Spans follow awaits only with a context manager; one per process, set the first time it is needed. */
function ensureContextManager(): void {
  if (contextManager) return;
  contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
}

const targetUrl = (endpoint: string, path: string) => endpoint.replace(/\/+$/, '') + path;

export class Telemetry {
  readonly buffer: TelemetryBuffer;
  private readonly targets: OtlpTarget[];
  private readonly tracerProvider: TracerProvider;
  private readonly meterProvider: MeterProvider;
  private readonly tracer: Tracer;
  /**
   * Requests by their labels, counted here and read by an observable counter at each
   * collection: a Map lookup per call instead of the SDK hashing the labels once more.
   */
  private readonly calls = new Map<string, { labels: Attributes; count: number }>();
  private readonly duration: Histogram;

  constructor(settings: TelemetrySettings, db: Db, codec: Codec, log: Logger, gauges: TelemetryGauges) {
    ensureContextManager();
    this.buffer = new TelemetryBuffer(db, codec, settings.algorithm, settings.bufferMaxBytes, log);
    const target = (path: string) => settings.endpoints.map((e) => new OtlpTarget(targetUrl(e, path), this.buffer, settings.exportIntervalMs, log));
    const traceTargets = target('/v1/traces');
    const metricTargets = target('/v1/metrics');
    this.targets = [...traceTargets, ...metricTargets];
    const resource = resourceFromAttributes({ 'service.name': 'mcp-edge', 'service.version': VERSION });
    this.tracerProvider = new TracerProvider({
      resource,
      spanProcessors: [new BatchSpanProcessor({ exporter: new BufferedSpanExporter(traceTargets), scheduledDelayMillis: settings.exportIntervalMs, maxQueueSize: 8192, maxExportBatchSize: 2048 })],
    });
    this.tracer = this.tracerProvider.getTracer('mcp-edge', VERSION);
    this.meterProvider = new MeterProvider({
      resource,
      readers: [new PeriodicExportingMetricReader({ exporter: new BufferedMetricExporter(metricTargets), exportIntervalMillis: settings.exportIntervalMs, exportTimeoutMillis: Math.min(settings.exportIntervalMs, 30_000) })],
    });
    const meter = this.meterProvider.getMeter('mcp-edge', VERSION);
    meter.createObservableCounter('mcp_edge.requests', { description: 'MCP requests served (tools/call, resources/read, prompts/get), by method, target, provider and outcome.' }).addCallback((r) => {
      for (const { labels, count } of this.calls.values()) r.observe(count, labels);
    });
    this.duration = meter.createHistogram('mcp_edge.request.duration', { unit: 'ms', description: 'Time to answer an MCP request.' });
    meter.createObservableGauge('mcp_edge.sessions', { description: 'Open MCP client sessions.' }).addCallback((r) => r.observe(gauges.sessions()));
    meter.createObservableGauge('mcp_edge.telemetry.buffer.batches', { description: 'Telemetry batches waiting in the outage buffer.' }).addCallback((r) => r.observe(this.buffer.depth()));
  }

  /**
   * Runs one MCP request inside its span (a child of the client's trace when
   * it sent one); `routing`, when given, learns to wrap each try of an
   * upstream or a peer in a child span and tells the span which provider served.
   */
  async request<T>(req: TracedRequest, routing: CallRouting | undefined, run: () => Promise<T>): Promise<T> {
    const parent = incomingContext(req.meta, req.headers);
    const attributes: Attributes = { 'mcp.method.name': req.method, 'mcp_edge.target': req.target, 'mcp_edge.principal': req.principal };
    if (req.method === 'tools/call') attributes['gen_ai.tool.name'] = req.target;
    if (req.session !== undefined) attributes['mcp.session.id'] = req.session;
    const span = this.tracer.startSpan(`${req.method} ${req.target}`, { kind: SpanKind.SERVER, attributes }, parent);
    // A client span stands for a call out of this process (an upstream, a peer); a tool the gateway
    // serves itself has none: the server span already names the provider, and a second span per
    // call would double what tracing costs the calls that never leave the process.
    if (routing) routing.attempt = (provider, attempt) => (provider.kind === 'local' ? attempt() : this.attempt(provider.id, req, attempt));
    const start = performance.now();
    let outcome = 'ok';
    try {
      const result = await context.with(trace.setSpan(parent, span), run);
      if ((result as { isError?: unknown }).isError === true) outcome = 'tool_error';
      if ((result as { task?: unknown }).task !== undefined) {
        outcome = 'deferred';
        span.setAttribute('mcp_edge.queue.decision', 'deferred');
      }
      return result;
    } catch (err) {
      outcome = 'error';
      span.recordException(err as Error);
      throw err;
    } finally {
      if (outcome === 'error' || outcome === 'tool_error') span.setStatus({ code: SpanStatusCode.ERROR });
      if (routing?.provider !== undefined) span.setAttribute('mcp_edge.provider', routing.provider);
      span.end();
      const counted = this.seriesOf(req, routing?.provider ?? '', outcome);
      counted.count += 1;
      this.duration.record(performance.now() - start, counted.labels);
    }
  }

  /** The request counter's series for a request; past MAX_CALL_SERIES, new targets share the target "(other)". */
  private seriesOf(req: TracedRequest, provider: string, outcome: string): { labels: Attributes; count: number } {
    const keyOf = (target: string) => `${req.method}\u0000${target}\u0000${provider}\u0000${outcome}`;
    let target = req.series();
    let counted = this.calls.get(keyOf(target));
    if (counted) return counted;
    if (this.calls.size >= MAX_CALL_SERIES) {
      target = OTHER_TARGET;
      counted = this.calls.get(keyOf(target));
      if (counted) return counted;
    }
    counted = { labels: { 'mcp.method.name': req.method, 'mcp_edge.target': target, 'mcp_edge.provider': provider, outcome }, count: 0 };
    this.calls.set(keyOf(target), counted);
    return counted;
  }

  /** One try of one provider, as a client span under the request's. */
  private attempt<T>(providerId: string, req: TracedRequest, run: () => Promise<T>): Promise<T> {
    return this.tracer.startActiveSpan(`${req.method} ${req.target} @${providerId}`, { kind: SpanKind.CLIENT, attributes: { 'mcp_edge.provider': providerId } }, async (span: Span) => {
      try {
        return await run();
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /** Exports what is pending now (spans and a metrics collection). */
  async flush(): Promise<void> {
    await this.tracerProvider.forceFlush();
    await this.meterProvider.forceFlush();
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.tracerProvider.shutdown(), this.meterProvider.shutdown()]);
    await Promise.allSettled(this.targets.map((t) => t.close()));
  }

  /** The export's state in the Prometheus text format. */
  metricsText(): string {
    const lines: string[] = [];
    const c = this.buffer.counters;
    writeMetric(lines, 'gauge', 'mcp_edge_telemetry_buffer_batches', 'Telemetry batches waiting in the outage buffer.', [[null, this.buffer.depth()]]);
    writeMetric(lines, 'gauge', 'mcp_edge_telemetry_buffer_bytes', 'Bytes of compressed batches in the outage buffer.', [[null, this.buffer.bytes]]);
    writeMetric(lines, 'counter', 'mcp_edge_telemetry_buffered_total', 'Batches put in the outage buffer.', [[null, c.buffered]]);
    writeMetric(lines, 'counter', 'mcp_edge_telemetry_resent_total', 'Buffered batches a collector took later.', [[null, c.resent]]);
    writeMetric(lines, 'counter', 'mcp_edge_telemetry_dropped_total', 'Buffered batches dropped, oldest first, at telemetry.buffer_max_bytes.', [[null, c.dropped]]);
    writeMetric(lines, 'gauge', 'mcp_edge_telemetry_collector_up', '1 when the last export to the collector succeeded.', this.targets.map((t) => [{ url: t.url }, t.up ? 1 : 0]));
    return lines.join('\n') + '\n';
  }
}
