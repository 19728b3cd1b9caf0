// OpenTelemetry export with real processes on 127.0.0.1: an OTLP/HTTP
// receiver of the test's own (test/fixtures/otlp-receiver.mjs) that the test
// kills and starts again, and an HTTP upstream that reports the traceparent
// it was sent. Spans carry the client's trace; a collector outage fills the
// SQLite buffer, which drains oldest first when the collector is back; the
// buffer's bound drops the oldest batches and counts them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCore } from '../host/src/core/index.js';
import { openDatabaseFile } from '../host/src/storage/database.js';
import { TelemetryBuffer } from '../host/src/telemetry/buffer.js';
import { MAX_CALL_SERIES, OTHER_TARGET } from '../host/src/telemetry/telemetry.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { eventually, freePort, startGateway, textOf } from './helpers/gateway.js';
import { ROOT, tempDir, waitForOutput } from './helpers/processes.js';

const children = new Set<ChildProcess>();
const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  for (const child of children) child.kill('SIGKILL');
});

async function startChild(script: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'test/fixtures', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await waitForOutput(child.stdout, /listening \d+/);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string } }[];
}

/** What the receiver has taken so far, request by request. */
function received(file: string): { path: string; body: any }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function spansIn(file: string): { request: number; span: OtlpSpan }[] {
  return received(file).flatMap((r, request) => (r.path === '/v1/traces' ? r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((span: OtlpSpan) => ({ request, span })))) : []));
}

const attr = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value.stringValue;
const traceparent = (traceId: string, spanId = '00f067aa0ba902b7') => `00-${traceId}-${spanId}-01`;
const newTraceId = () => randomBytes(16).toString('hex');

describe('telemetry export over OTLP/HTTP', async () => {
  const collectorPort = await freePort();
  const file = join(tempDir(), 'received.jsonl');
  let collector = await startChild('otlp-receiver.mjs', [String(collectorPort), file]);
  const upstreamPort = await freePort();
  await startChild('trace-echo-server.mjs', [String(upstreamPort)]);
  const gateway = await startGateway({
    telemetry: { enabled: true, endpoints: [`http://127.0.0.1:${collectorPort}`], export_interval_seconds: 1 },
    upstreams: [{ id: 'echo', transport: 'http', url: `http://127.0.0.1:${upstreamPort}/mcp` }],
  });
  const telemetry = gateway.telemetry!;
  const tracesUrl = `http://127.0.0.1:${collectorPort}/v1/traces`;
  const client = new Client({ name: 'traced-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
  clients.push(client);
  const tool = (await client.listTools()).tools.find((t) => t.name.endsWith('traceparent'))!.name;
  const callIn = (traceId: string) => client.callTool({ name: tool, arguments: {}, _meta: { traceparent: traceparent(traceId) } });

  it("exports a span per call in the client's trace (from _meta), with a child per provider try, and passes the context to the HTTP upstream", async () => {
    const traceId = newTraceId();
    const sent = textOf(await callIn(traceId));
    // The upstream got our trace, under a span of the gateway's (not the client's span id).
    expect(sent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(sent).not.toContain('00f067aa0ba902b7');
    const spans = await eventually(() => {
      const mine = spansIn(file).filter((s) => s.span.traceId === traceId);
      return mine.length >= 2 ? mine.map((s) => s.span) : undefined;
    }, 15_000, 'the spans of the call at the receiver');
    const server = spans.find((s) => s.name === `tools/call ${tool}`)!;
    expect(server.parentSpanId).toBe('00f067aa0ba902b7');
    expect(attr(server, 'mcp_edge.provider')).toBe('echo');
    expect(attr(server, 'gen_ai.tool.name')).toBe(tool);
    const attempt = spans.find((s) => s.name === `tools/call ${tool} @echo`)!;
    expect(attempt.parentSpanId).toBe(server.spanId);
    // The upstream's traceparent names the provider try's span as the parent.
    expect(sent).toBe(`00-${traceId}-${attempt.spanId}-01`);
  });

  it('gives a tool the gateway serves itself a server span naming the provider, and no client span', async () => {
    const traceId = newTraceId();
    await client.callTool({ name: 'count_tokens', arguments: { text: 'hi' }, _meta: { traceparent: traceparent(traceId) } });
    const server = await eventually(() => spansIn(file).find((s) => s.span.traceId === traceId)?.span, 15_000, 'the span of the local call');
    expect(server.name).toBe('tools/call count_tokens');
    expect(attr(server, 'mcp_edge.provider')).toBe('local');
    // The upstream call above had its client span by now; this one's trace holds the server span alone.
    await telemetry.flush();
    expect(spansIn(file).filter((s) => s.span.traceId === traceId).map((s) => s.span.name)).toEqual(['tools/call count_tokens']);
  });

  it('takes the trace context from the HTTP traceparent header when _meta has none', async () => {
    const traceId = newTraceId();
    const headerClient = new Client({ name: 'header-client', version: '1.0.0' });
    await headerClient.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { traceparent: traceparent(traceId, '1111111111111111') } } }));
    clients.push(headerClient);
    expect(textOf(await headerClient.callTool({ name: tool, arguments: {} }))).toContain(traceId);
    const server = await eventually(() => spansIn(file).find((s) => s.span.traceId === traceId && s.span.name === `tools/call ${tool}`)?.span, 15_000, 'the span');
    expect(server.parentSpanId).toBe('1111111111111111');
  });

  it('passes no trace context on when telemetry is off, whatever the client sent', async () => {
    const plain = await startGateway({ upstreams: [{ id: 'echo', transport: 'http', url: `http://127.0.0.1:${upstreamPort}/mcp` }] });
    expect(plain.telemetry).toBeUndefined();
    const other = new Client({ name: 'untraced', version: '1.0.0' });
    await other.connect(new StreamableHTTPClientTransport(new URL(plain.url), { requestInit: { headers: { traceparent: traceparent(newTraceId()) } } }));
    clients.push(other);
    expect(textOf(await other.callTool({ name: tool, arguments: {}, _meta: { traceparent: traceparent(newTraceId()) } }))).toBe('none');
  });

  it('exports metrics beside the spans', async () => {
    const names = await eventually(() => {
      const all = received(file).filter((r) => r.path === '/v1/metrics').flatMap((r) => r.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((m: any) => m.name))));
      return all.includes('mcp_edge.requests') ? new Set(all) : undefined;
    }, 15_000, 'mcp_edge.requests at the receiver');
    expect(names).toContain('mcp_edge.request.duration');
    expect(names).toContain('mcp_edge.sessions');
    // The request counter is a cumulative, monotonic sum by method, target, provider and outcome:
    // the two calls to the echo upstream's tool made above (from _meta, and from the header client) are counted there.
    const label = (point: any, key: string) => point.attributes.find((a: any) => a.key === key)?.value.stringValue;
    const counted = () => {
      const latest = received(file).filter((r) => r.path === '/v1/metrics').flatMap((r) => r.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics))).filter((m: any) => m.name === 'mcp_edge.requests').at(-1);
      const echo = latest?.sum.dataPoints.find((p: any) => label(p, 'mcp_edge.target') === tool && label(p, 'mcp_edge.provider') === 'echo' && label(p, 'outcome') === 'ok');
      return echo && Number(echo.asInt ?? echo.asDouble) === 2 ? { latest, echo } : undefined;
    };
    const { latest, echo } = await eventually(counted, 15_000, 'the two echo calls counted in mcp_edge.requests');
    expect(latest.sum.isMonotonic).toBe(true);
    expect(label(echo, 'mcp.method.name')).toBe('tools/call');
  });

  it('labels the request metrics with names the gateway knows, and bounds their series (regression: a series per made-up name, without end)', async () => {
    const label = (point: any, key: string) => point.attributes.find((a: any) => a.key === key)?.value.stringValue;
    const latestRequests = () =>
      received(file).filter((r) => r.path === '/v1/metrics').flatMap((r) => r.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics))).filter((m: any) => m.name === 'mcp_edge.requests').at(-1);
    for (let i = 0; i < 3; i++) await client.callTool({ name: `made-up-${i}`, arguments: {} }).catch(() => undefined);
    // The span keeps the name the client sent; the counter counts them as one.
    await eventually(() => spansIn(file).find((s) => s.span.name === 'tools/call made-up-2'), 15_000, 'the span of a made-up name');
    const unknown = await eventually(() => {
      const point = latestRequests()?.sum.dataPoints.find((p: any) => label(p, 'mcp_edge.target') === '(unknown tool)');
      return point && Number(point.asInt ?? point.asDouble) === 3 ? point : undefined;
    }, 15_000, 'the made-up names counted as "(unknown tool)"');
    expect(label(unknown, 'outcome')).toBe('error');
    expect(latestRequests().sum.dataPoints.some((p: any) => String(label(p, 'mcp_edge.target')).startsWith('made-up'))).toBe(false);
    // Past MAX_CALL_SERIES, new targets share one series.
    const done = async () => ({ content: [] });
    for (let i = 0; i < MAX_CALL_SERIES + 50; i++) {
      await telemetry.request({ method: 'tools/call', target: `t${i}`, series: () => `t${i}`, principal: 'p', session: undefined, meta: undefined, headers: undefined }, undefined, done);
    }
    await telemetry.flush();
    const points = await eventually(() => {
      const all = latestRequests()?.sum.dataPoints;
      return all?.some((p: any) => label(p, 'mcp_edge.target') === OTHER_TARGET) ? all : undefined;
    }, 15_000, 'the "(other)" series');
    expect(points.length).toBeLessThanOrEqual(MAX_CALL_SERIES + 1);
  });

  it('keeps batches in SQLite while the collector is down and sends them, oldest first, when it is back', async () => {
    await stop(collector);
    const before = received(file).length;
    const traces = Array.from({ length: 4 }, newTraceId);
    for (const id of traces) {
      await callIn(id);
      // One export interval per call, so the calls land in separate batches.
      await eventually(() => (telemetry.buffer.depth(tracesUrl) > traces.indexOf(id) ? true : undefined), 15_000, 'a batch of spans in the buffer');
    }
    expect(telemetry.buffer.depth(tracesUrl)).toBe(4);
    expect(received(file).length).toBe(before);
    const metrics = await (await fetch(new URL('/metrics', gateway.url))).text();
    expect(metrics).toMatch(/mcp_edge_telemetry_collector_up\{url="[^"]+\/v1\/traces"\} 0/);
    // The frames are the core's lz4.
    const frame = gateway.db.prepare('SELECT payload FROM telemetry_buffer ORDER BY id LIMIT 1').pluck().get() as Buffer;
    expect(gateway.core.codec.inspect(frame).algorithm).toBe('lz4');

    collector = await startChild('otlp-receiver.mjs', [String(collectorPort), file]);
    await eventually(() => (telemetry.buffer.depth() === 0 ? true : undefined), 20_000, 'the buffer to drain');
    const order = traces.map((id) => spansIn(file).find((s) => s.span.traceId === id)?.request);
    expect(order.every((r) => r !== undefined)).toBe(true);
    // Four batches, four requests, in the order they were made.
    expect(new Set(order).size).toBe(4);
    expect([...order].sort((a, b) => a! - b!)).toEqual(order);
    expect(telemetry.buffer.counters.resent).toBeGreaterThanOrEqual(4);
    expect(telemetry.buffer.counters.dropped).toBe(0);
  });
});

describe('telemetry config', () => {
  it('refuses telemetry.enabled without an endpoint, saying what to add', async () => {
    await expect(startGateway({ telemetry: { enabled: true } })).rejects.toThrow(/telemetry\.endpoints: list at least one OTLP\/HTTP collector URL/);
  });
});

describe('the outage buffer', () => {
  it('drops the oldest batches past its bound, counts them, and keeps the rest in order', async () => {
    const db = openDatabaseFile(join(tempDir(), 't.db'));
    const core = await loadCore();
    const buffer = new TelemetryBuffer(db, core.codec, 'lz4', 65_536, createLogger('silent'));
    // Random bytes do not compress: each batch stores about 20 KiB.
    const bodies = Array.from({ length: 6 }, (_, i) => Buffer.concat([Buffer.from(`batch ${i} `), randomBytes(20_000)]));
    for (const body of bodies) buffer.append('http://c/v1/traces', body);
    expect(buffer.bytes).toBeLessThanOrEqual(65_536);
    expect(buffer.counters.dropped).toBe(3);
    const kept: string[] = [];
    for (let b = buffer.oldest('http://c/v1/traces'); b; b = buffer.oldest('http://c/v1/traces')) {
      kept.push(Buffer.from(b.body).subarray(0, 8).toString());
      buffer.sent(b.id);
    }
    expect(kept).toEqual(['batch 3 ', 'batch 4 ', 'batch 5 ']);
    expect(buffer.bytes).toBe(0);
    db.close();
  });

  it('survives a restart: a new buffer on the same database sees what waited', async () => {
    const path = join(tempDir(), 't.db');
    const core = await loadCore();
    const first = openDatabaseFile(path);
    new TelemetryBuffer(first, core.codec, 'lz4', 1_000_000, createLogger('silent')).append('http://c/v1/metrics', Buffer.from('{"resourceMetrics":[]}'));
    first.close();
    const again = openDatabaseFile(path);
    const buffer = new TelemetryBuffer(again, core.codec, 'lz4', 1_000_000, createLogger('silent'));
    expect(buffer.depth('http://c/v1/metrics')).toBe(1);
    expect(Buffer.from(buffer.oldest('http://c/v1/metrics')!.body).toString()).toBe('{"resourceMetrics":[]}');
    again.close();
  });
});
