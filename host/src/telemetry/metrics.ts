// The Prometheus text format, written in one place: GET /metrics is the
// gateway's gauges followed by the offline queue's (host/src/queue/status.ts).
// A leaf: it imports nothing, and each writer declares the data it prints
// (the health report fits GatewayGauges as it is), so the gateway and the
// queue can both use it without it knowing either.

/** What the gateway's gauges print: the fields of its health report that they read. */
export interface GatewayGauges {
  uptime_seconds: number;
  sessions: number;
  core: { component_bytes: number | null };
  providers: readonly { id: string; kind: string; state: string }[];
}

/** One sample: its labels (none for a bare metric) and its value. */
export type Sample = [labels: Record<string, string> | null, value: number];

const escape = (v: string): string => v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

function sampleLine(name: string, [labels, value]: Sample): string {
  if (!labels) return `${name} ${value}`;
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return `${name}{${pairs.join(',')}} ${value}`;
}

/** Appends one metric (HELP, TYPE and its samples) to `lines`. */
export function writeMetric(lines: string[], type: 'gauge' | 'counter', name: string, help: string, samples: Sample[]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map((s) => sampleLine(name, s)));
}

/** Renders the gateway's gauges; `extra` is appended as is. */
export function gatewayMetrics(health: GatewayGauges, extra = ''): string {
  const lines: string[] = [];
  writeMetric(lines, 'gauge', 'mcp_edge_up', '1 while the gateway serves.', [[null, 1]]);
  writeMetric(lines, 'gauge', 'mcp_edge_uptime_seconds', 'Seconds since the gateway started.', [[null, health.uptime_seconds]]);
  writeMetric(lines, 'gauge', 'mcp_edge_sessions', 'Open MCP client sessions.', [[null, health.sessions]]);
  writeMetric(
    lines,
    'gauge',
    'mcp_edge_provider_up',
    '1 when a tool provider is up, 0 otherwise.',
    health.providers.map((p) => [{ provider: p.id, kind: p.kind }, p.state === 'up' ? 1 : 0]),
  );
  writeMetric(lines, 'gauge', 'mcp_edge_component_bytes', 'Size of the edge-core WebAssembly component.', [[null, health.core.component_bytes ?? 0]]);
  return lines.join('\n') + '\n' + extra;
}

/** The process's own resources, read at each scrape. */
export interface ProcessSample {
  rssBytes: number;
  cpuSeconds: number;
  startTimeSeconds: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
}

// When this process started, in seconds since epoch: fixed for its life, so worked out once.
const startTimeSeconds = Math.round((Date.now() / 1000 - process.uptime()) * 1000) / 1000;

/** Reads the process's memory and CPU now. */
export function sampleProcess(): ProcessSample {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rssBytes: memory.rss,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    startTimeSeconds,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    externalBytes: memory.external,
  };
}

/**
 * The process's memory and CPU under the names Prometheus client libraries use
 * (process_*, nodejs_*), so the usual dashboards and alerts work: on a Pi the
 * RSS is the number to watch (bench/memory/README.md says where it levels off).
 */
export function processMetrics(sample: ProcessSample): string {
  const lines: string[] = [];
  writeMetric(lines, 'gauge', 'process_resident_memory_bytes', 'Resident memory size in bytes.', [[null, sample.rssBytes]]);
  writeMetric(lines, 'counter', 'process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', [[null, sample.cpuSeconds]]);
  writeMetric(lines, 'gauge', 'process_start_time_seconds', 'Start time of the process since unix epoch, in seconds.', [[null, sample.startTimeSeconds]]);
  writeMetric(lines, 'gauge', 'nodejs_heap_size_used_bytes', "V8's heap in use, in bytes.", [[null, sample.heapUsedBytes]]);
  writeMetric(lines, 'gauge', 'nodejs_heap_size_total_bytes', "V8's heap reserved, in bytes.", [[null, sample.heapTotalBytes]]);
  writeMetric(lines, 'gauge', 'nodejs_external_memory_bytes', 'Memory outside the heap held by JS objects (buffers, the WebAssembly core), in bytes.', [[null, sample.externalBytes]]);
  return lines.join('\n') + '\n';
}

/** The sessions' event stores (SSE events kept for resumes), all together. */
export function eventStoreMetrics(totals: { events: number; bytes: number }): string {
  const lines: string[] = [];
  writeMetric(lines, 'gauge', 'mcp_edge_event_store_events', 'SSE events kept for resumes, all sessions together.', [[null, totals.events]]);
  writeMetric(lines, 'gauge', 'mcp_edge_event_store_bytes', 'Bytes of SSE events kept for resumes, all sessions together.', [[null, totals.bytes]]);
  return lines.join('\n') + '\n';
}

/** The HTTP listener's connections and the sessions that gave way to newcomers (gateway/connections.ts, session-limits.ts). */
export function connectionMetrics(connections: { open: number; evicted: number; refused: number; stalled: number }, sessionsEvicted: number): string {
  const lines: string[] = [];
  writeMetric(lines, 'gauge', 'mcp_edge_connections', 'Open HTTP connections.', [[null, connections.open]]);
  writeMetric(lines, 'counter', 'mcp_edge_connections_evicted_total', 'Idle or slow connections closed to make room for a newcomer.', [[null, connections.evicted]]);
  writeMetric(lines, 'counter', 'mcp_edge_connections_refused_total', 'Connections refused because every one was busy with a request.', [[null, connections.refused]]);
  writeMetric(lines, 'counter', 'mcp_edge_connections_stalled_total', 'Connections ended because their client took nothing it was sent for 60 s.', [[null, connections.stalled]]);
  writeMetric(lines, 'counter', 'mcp_edge_sessions_evicted_total', 'Idle MCP sessions closed to make room for a newcomer.', [[null, sessionsEvicted]]);
  return lines.join('\n') + '\n';
}

/** Tool pinning per upstream: pinned tools, and offered tools not approved (withheld, or listed in warn mode). */
export function pinningMetrics(upstreams: readonly { upstream: string; pinned: number; withheld: readonly string[]; listedUnapproved: readonly string[] }[]): string {
  if (upstreams.length === 0) return '';
  const lines: string[] = [];
  writeMetric(lines, 'gauge', 'mcp_edge_tools_pinned', 'Tools of an upstream with an approved definition (tool pinning).', upstreams.map((u) => [{ provider: u.upstream }, u.pinned]));
  writeMetric(
    lines,
    'gauge',
    'mcp_edge_tools_unapproved',
    'Tools an upstream offers now whose definitions are not approved: withheld from clients, or listed anyway (pinning = "warn").',
    upstreams.flatMap((u): Sample[] => [
      [{ provider: u.upstream, action: 'withheld' }, u.withheld.length],
      [{ provider: u.upstream, action: 'listed' }, u.listedUnapproved.length],
    ]),
  );
  return lines.join('\n') + '\n';
}

/** What the TLS metrics print: the listener's status as /health reports it. */
export interface TlsGauges {
  certificate: { not_after: string };
  reloads: number;
  reload_failures: number;
  handshake_failures: number;
}

/** The HTTPS listener: when its certificate expires (alert on it), reloads, failed handshakes. */
export function tlsMetrics(tls: TlsGauges): string {
  const lines: string[] = [];
  writeMetric(lines, 'gauge', 'mcp_edge_tls_certificate_expiry_timestamp_seconds', 'When the served TLS certificate expires, in seconds since epoch.', [[null, Math.floor(Date.parse(tls.certificate.not_after) / 1000)]]);
  writeMetric(lines, 'counter', 'mcp_edge_tls_reloads_total', 'Reloads of the TLS files that changed what is served (ok), or were refused (failed).', [
    [{ outcome: 'ok' }, tls.reloads],
    [{ outcome: 'failed' }, tls.reload_failures],
  ]);
  writeMetric(lines, 'counter', 'mcp_edge_tls_handshake_failures_total', 'Connections that failed their TLS handshake (no or a refused client certificate, an old protocol, not TLS).', [[null, tls.handshake_failures]]);
  return lines.join('\n') + '\n';
}

/** Requests counted by how authentication ended: ok, or why it refused (missing, invalid, expired, revoked, forbidden, ...). */
export function authMetrics(outcomes: Readonly<Record<string, number>>): string {
  const lines: string[] = [];
  writeMetric(lines, 'counter', 'mcp_edge_auth_total', 'Requests by authentication outcome: ok, or why the credential was refused.', Object.entries(outcomes).map(([outcome, n]) => [{ outcome }, n]));
  return lines.join('\n') + '\n';
}
