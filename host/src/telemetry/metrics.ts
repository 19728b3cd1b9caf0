// GET /metrics: the gateway's state in the Prometheus text format, gateway
// gauges first, then the offline queue's (host/src/queue/status.ts).
import type { HealthReport } from '../gateway/gateway.js';

const escape = (v: string): string => v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

/** Renders the health report as Prometheus gauges; `extra` is appended as is. */
export function gatewayMetrics(health: HealthReport, extra = ''): string {
  const lines = [
    '# HELP mcp_edge_up 1 while the gateway serves.',
    '# TYPE mcp_edge_up gauge',
    'mcp_edge_up 1',
    '# HELP mcp_edge_uptime_seconds Seconds since the gateway started.',
    '# TYPE mcp_edge_uptime_seconds gauge',
    `mcp_edge_uptime_seconds ${health.uptime_seconds}`,
    '# HELP mcp_edge_sessions Open MCP client sessions.',
    '# TYPE mcp_edge_sessions gauge',
    `mcp_edge_sessions ${health.sessions}`,
    '# HELP mcp_edge_provider_up 1 when a tool provider is up, 0 otherwise.',
    '# TYPE mcp_edge_provider_up gauge',
    ...health.providers.map((p) => `mcp_edge_provider_up{provider="${escape(p.id)}",kind="${escape(p.kind)}"} ${p.state === 'up' ? 1 : 0}`),
    '# HELP mcp_edge_component_bytes Size of the edge-core WebAssembly component.',
    '# TYPE mcp_edge_component_bytes gauge',
    `mcp_edge_component_bytes ${health.core.component_bytes ?? 0}`,
  ];
  return lines.join('\n') + '\n' + extra;
}
