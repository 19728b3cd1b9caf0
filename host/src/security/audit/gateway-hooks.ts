// What the gateway's HTTP front door records (gateway.ts calls these): the
// event of an admin route (every authenticated route but /mcp, whose MCP
// operations are recorded one by one), and the audit writer's metrics.
import type { IncomingMessage } from 'node:http';
import { MCP_PATH, routeKey } from '../../gateway/routes.js';
import { writeMetric } from '../../telemetry/metrics.js';
import type { AuditEvent } from './event.js';
import type { AuditLog } from './log.js';

const MCP_ROUTES = new Set(['POST', 'GET', 'DELETE'].map((m) => routeKey(m, MCP_PATH)));

/** The admin action a request to route `key` is, or undefined for /mcp. */
export function routeEvent(req: IncomingMessage, key: string): AuditEvent | undefined {
  if (MCP_ROUTES.has(key)) return undefined;
  const query = (req.url ?? '').split('?')[1];
  return { operation: key, outcome: 'ok', at: Date.now(), ...(query ? { target: query } : {}) };
}

/** The program that embeds the gateway (the npm API), which switches plugins. */
const EMBEDDER = Object.freeze({ id: 'local:process', kind: 'local' });

/** A plugin, tool, prompt or resource switched on or off (gateway.plugins.enable/disable). */
export function pluginSwitchEvent(name: string, enabled: boolean): AuditEvent {
  return { operation: enabled ? 'plugins enable' : 'plugins disable', outcome: 'ok', principal: EMBEDDER, target: name };
}

/** A refusal by a policy (authorization rules, rate limits), as its denial hook reports it. */
export interface PolicyDenial {
  principal: { readonly id: string; readonly kind: string; readonly address?: string };
  /** What was refused: "tool", "resource", "prompt", "route", "admin", "rate", ... */
  kind: string;
  /** The tool, resource URI, prompt, route or admin operation. */
  name: string;
  /** Why, for the operator. */
  reason: string;
}

/** The audit event of a policy's denial: operation "authorize" (or "rate-limit"), outcome denied. */
export function denialEvent(denial: PolicyDenial): AuditEvent {
  const { principal } = denial;
  return {
    operation: denial.kind === 'rate' ? 'rate-limit' : 'authorize',
    outcome: 'denied',
    principal,
    ...(principal.address !== undefined ? { address: principal.address } : {}),
    ...(denial.name !== '' ? { target: denial.name } : {}),
    detail: `${denial.kind}: ${denial.reason}`,
  };
}

/** The audit writer's counters and backlog, in the Prometheus text format. */
export function auditMetrics(audit: AuditLog): string {
  const c = audit.counters;
  const lines: string[] = [];
  writeMetric(lines, 'counter', 'mcp_edge_audit_records_total', 'Audit records accepted for writing.', [[null, c.recorded]]);
  writeMetric(lines, 'counter', 'mcp_edge_audit_written_total', 'Audit records written to the chain.', [[null, c.written]]);
  writeMetric(lines, 'counter', 'mcp_edge_audit_dropped_total', 'Audit records dropped because the writer was behind or the disk refused writes (each gap is a row in the chain).', [[null, c.dropped]]);
  writeMetric(lines, 'counter', 'mcp_edge_audit_refused_total', 'Operations refused because the audit log was full (audit.on_overflow = "refuse").', [[null, c.refused]]);
  writeMetric(lines, 'counter', 'mcp_edge_audit_write_errors_total', 'Audit batches the database refused (each is retried).', [[null, c.writeErrors]]);
  writeMetric(lines, 'counter', 'mcp_edge_audit_batches_total', 'Audit batches committed.', [[null, c.batches]]);
  writeMetric(lines, 'counter', 'mcp_edge_audit_pruned_total', 'Audit rows pruned by retention.', [[null, c.pruned]]);
  writeMetric(lines, 'gauge', 'mcp_edge_audit_backlog', 'Audit records waiting to be written.', [[null, audit.backlog]]);
  return lines.join('\n') + '\n';
}
