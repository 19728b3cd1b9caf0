// The mesh's share of GET /metrics: connections, peers, tools shared and
// offered, and the count and total time of remote calls and lookups.

import { REQUEST_TIMEOUT } from '../protocol/jsonrpc.js';
import { writeMetric } from '../telemetry/metrics.js';
import { isMcpError } from '../protocol/mcp-error.js';

export type CallOutcome = 'ok' | 'error' | 'timeout' | 'cancelled';

/** Counters the peer providers and lookups add to. */
export class MeshStats {
  readonly calls: Record<CallOutcome, number> = { ok: 0, error: 0, timeout: 0, cancelled: 0 };
  callSeconds = 0;
  lookups = 0;
  lookupSeconds = 0;

  /** Counts one remote call that started at `started` (performance.now()) and ended with `err` (none: ok). */
  call(started: number, err: unknown, cancelled: boolean): void {
    const outcome: CallOutcome = err === undefined ? 'ok' : cancelled ? 'cancelled' : isMcpError(err) && err.code === REQUEST_TIMEOUT ? 'timeout' : 'error';
    this.calls[outcome] += 1;
    this.callSeconds += (performance.now() - started) / 1000;
  }

  lookup(started: number): void {
    this.lookups += 1;
    this.lookupSeconds += (performance.now() - started) / 1000;
  }
}

export interface MeshGauges {
  connections: number;
  peers: readonly { state: string; tools: number }[];
  shared: number;
}

/** The shared context's counts (mesh.context): updates from peers, exchanges, and each space's stored bytes. */
export interface ContextGauges {
  applied: number;
  refused: number;
  exchanges: number;
  spaces: readonly { space: string; bytes: number }[];
}

export function meshMetrics(gauges: MeshGauges, stats: MeshStats, context?: ContextGauges): string {
  const lines: string[] = [];
  const up = gauges.peers.filter((p) => p.state === 'up');
  writeMetric(lines, 'gauge', 'mcp_edge_mesh_connections', 'Open libp2p connections to other mesh nodes.', [[null, gauges.connections]]);
  writeMetric(lines, 'gauge', 'mcp_edge_mesh_peers', 'Peers that announced tools to this node, by state.', [
    [{ state: 'up' }, up.length],
    [{ state: 'down' }, gauges.peers.length - up.length],
  ]);
  writeMetric(lines, 'gauge', 'mcp_edge_mesh_shared_tools', 'Tools this node shares with the mesh.', [[null, gauges.shared]]);
  writeMetric(lines, 'gauge', 'mcp_edge_mesh_remote_tools', 'Tools the peers that are up share (a tool from two peers counts twice).', [[null, up.reduce((n, p) => n + p.tools, 0)]]);
  writeMetric(lines, 'counter', 'mcp_edge_mesh_calls_total', 'Calls this node made to peers, by outcome.', Object.entries(stats.calls).map(([outcome, n]) => [{ outcome }, n]));
  writeMetric(lines, 'counter', 'mcp_edge_mesh_call_seconds_total', 'Time spent in calls to peers.', [[null, stats.callSeconds]]);
  writeMetric(lines, 'counter', 'mcp_edge_mesh_lookups_total', 'Lookups of who provides a tool.', [[null, stats.lookups]]);
  writeMetric(lines, 'counter', 'mcp_edge_mesh_lookup_seconds_total', 'Time spent in lookups.', [[null, stats.lookupSeconds]]);
  if (context) {
    writeMetric(lines, 'counter', 'mcp_edge_mesh_context_updates_total', "Peers' context updates: applied (they changed a space) or refused (too large, corrupt, not admitted).", [
      [{ outcome: 'applied' }, context.applied],
      [{ outcome: 'refused' }, context.refused],
    ]);
    writeMetric(lines, 'counter', 'mcp_edge_mesh_context_exchanges_total', 'Anti-entropy exchanges with peers that completed.', [[null, context.exchanges]]);
    writeMetric(lines, 'gauge', 'mcp_edge_mesh_context_bytes', 'Bytes each context space keeps in the database.', context.spaces.map((s) => [{ space: s.space }, s.bytes]));
  }
  return lines.join('\n') + '\n';
}
