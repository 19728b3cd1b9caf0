// OTLP/HTTP export that survives an outage. The official packages do the
// work: @opentelemetry/otlp-transformer turns spans and metrics into OTLP/JSON
// request bodies, and @opentelemetry/otlp-exporter-base's HTTP delegate posts
// them (its timeouts and retries included). What is added here is the buffer:
// a body the collector does not take is kept in SQLite (buffer.ts) and sent
// again, oldest first, before anything newer, once the collector answers.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import { JsonMetricsSerializer, JsonTraceSerializer, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { TelemetryBuffer } from './buffer.js';
import type { Logger } from './log.js';

export type Signal = 'traces' | 'metrics';

/** Bodies already serialized go through the delegate as they are. */
const AS_IS: ISerializer<Uint8Array, unknown> = { serializeRequest: (body) => body, deserializeResponse: () => ({}) };

/** One collector URL for one signal, e.g. http://collector:4318/v1/traces. */
export class OtlpTarget {
  private readonly delegate: IOtlpExportDelegate<Uint8Array>;
  private draining: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Whether the last attempt reached the collector. */
  up = true;

  constructor(
    readonly url: string,
    private readonly buffer: TelemetryBuffer,
    private readonly retryMs: number,
    private readonly log: Logger,
  ) {
    const options = convertLegacyHttpOptions({ url, timeoutMillis: Math.min(10_000, retryMs) }, url.endsWith('/v1/metrics') ? 'METRICS' : 'TRACES', '', { 'Content-Type': 'application/json' });
    this.delegate = createOtlpHttpExportDelegate(options, AS_IS, 'mcp_edge_otlp_exporter', { name: 'span', countItems: () => 1 }, undefined);
    // Batches left from an earlier run go first.
    if (buffer.depth(url) > 0) this.scheduleRetry(0);
  }

  /** Sends one request body, or keeps it when the collector does not take it (or older ones still wait). */
  async submit(body: Uint8Array): Promise<void> {
    if (this.closed) return;
    if (this.draining || this.buffer.depth(this.url) > 0) {
      this.buffer.append(this.url, body);
      void this.drain();
      return;
    }
    if (await this.send(body)) return;
    this.buffer.append(this.url, body);
    this.scheduleRetry(this.retryMs);
  }

  /** Sends what the buffer holds, oldest first, until it is empty or the collector stops answering. */
  drain(): Promise<void> {
    this.draining ??= this.resend().finally(() => (this.draining = undefined));
    return this.draining;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.draining;
    await this.delegate.shutdown();
  }

  private async resend(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const batch = this.buffer.oldest(this.url);
      if (!batch) return;
      if (!(await this.send(batch.body))) {
        this.scheduleRetry(this.retryMs);
        return;
      }
      this.buffer.sent(batch.id);
    }
  }

  private scheduleRetry(ms: number): void {
    if (this.retry !== undefined || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.drain();
    }, ms);
    this.retry.unref();
  }

  private async send(body: Uint8Array): Promise<boolean> {
    const result = await new Promise<ExportResult>((resolve) => this.delegate.export(body, resolve));
    const ok = result.code === ExportResultCode.SUCCESS;
    if (ok !== this.up) {
      if (ok) this.log.info('telemetry: the collector answers again; sending what waited', { url: this.url, waiting: this.buffer.depth(this.url) });
      else this.log.warn('telemetry: the collector did not take a batch; keeping batches in the database until it does', { url: this.url, error: result.error?.message });
    }
    this.up = ok;
    return ok;
  }
}

/** Serializes with the official OTLP/JSON serializer and hands the body to every target. */
async function fanOut<T>(serializer: ISerializer<T, unknown>, items: T, targets: readonly OtlpTarget[], done: (result: ExportResult) => void): Promise<void> {
  const body = serializer.serializeRequest(items);
  if (!body) return done({ code: ExportResultCode.FAILED, error: new Error('the OTLP serializer produced nothing') });
  await Promise.all(targets.map((t) => t.submit(body)));
  // Sent or kept: either way the batch is the buffer's now, not the SDK's to retry.
  done({ code: ExportResultCode.SUCCESS });
}

export class BufferedSpanExporter implements SpanExporter {
  constructor(private readonly targets: readonly OtlpTarget[]) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    void fanOut(JsonTraceSerializer, spans, this.targets, done);
  }
  async shutdown(): Promise<void> {}
}

export class BufferedMetricExporter implements PushMetricExporter {
  constructor(private readonly targets: readonly OtlpTarget[]) {}
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    void fanOut(JsonMetricsSerializer, metrics, this.targets, done);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
