// What GET /health says, and why. The gateway is "ok" when everything it was
// given works; "degraded" when it still serves but something is missing (an
// upstream down or still connecting, a queue destination whose deliveries
// fail); "down" when it cannot do its job: its database cannot be read, or it
// fronts upstreams and not one of them is up or connecting. Down answers 503,
// so a load balancer can tell.

import type { TlsListenerStatus } from '../security/tls-listener.js';
import type { PowerStatus } from '../power/power.js';
import type { TpmStatus } from '../security/tpm/service.js';

export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface ProviderHealthLine {
  id: string;
  kind: string;
  state: string;
  detail?: string;
}

export interface HealthReport {
  status: HealthStatus;
  /** Why the status is not "ok", one sentence each; empty when it is. */
  reasons: string[];
  version: string;
  uptime_seconds: number;
  core: { version: string; features: readonly string[]; component_bytes: number | null };
  sessions: number;
  providers: ProviderHealthLine[];
  /** The HTTPS listener (its certificate, client certificates, reloads); absent on plain HTTP. */
  tls?: TlsListenerStatus;
  /** Power management: mode, why, since when, asleep (power/power.ts). */
  power?: PowerStatus;
  /** security.use_tpm: { enabled: false }, or the TPM, its AK and what the gateway measured. */
  tpm: TpmStatus;
}

/** A queue destination as the assessment needs it (from OfflineQueue.status()). */
export interface DestinationHealth {
  destination: string;
  depth: number;
  failures: number;
  last_error: string | null;
}

export interface HealthInputs {
  providers: readonly ProviderHealthLine[];
  destinations: readonly DestinationHealth[];
  /** Why the database cannot be used; undefined when it can. */
  databaseProblem: string | undefined;
  /** Tool pinning per upstream (with it on): offered tools whose definitions are not approved. */
  pinning?: readonly { upstream: string; withheld: readonly string[]; listedUnapproved: readonly string[] }[];
  /** What is wrong with the HTTPS listener: an expired certificate, a failed reload. */
  tlsProblems?: readonly string[];
  /** The TPM's last command failed (security.use_tpm). */
  tpmProblems?: readonly string[];
}

/** The HTTP status of a report: 503 only when the gateway is down. */
export const httpStatusOf = (status: HealthStatus): number => (status === 'down' ? 503 : 200);

/** Decides the status from what the gateway's parts report, with a reason for each problem. */
export function assessHealth(inputs: HealthInputs): { status: HealthStatus; reasons: string[] } {
  const down: string[] = [];
  const degraded: string[] = [];
  if (inputs.databaseProblem !== undefined) down.push(`database: ${inputs.databaseProblem}`);
  const remote = inputs.providers.filter((p) => p.kind !== 'local');
  for (const p of inputs.providers) {
    if (p.state !== 'up') degraded.push(`${p.kind} "${p.id}" is ${p.state}${p.detail ? `: ${p.detail}` : ''}`);
  }
  // Upstreams still on their first connection attempt (they connect in the background) leave it degraded, not down.
  if (remote.length > 0 && !remote.some((p) => p.state === 'up' || p.state === 'starting')) down.push(`none of its ${remote.length} upstream(s) is up`);
  for (const d of inputs.destinations) {
    if (d.failures > 0 && d.depth > 0) {
      degraded.push(`queue destination "${d.destination}": ${d.failures} delivery attempt(s) failed in a row, ${d.depth} call(s) waiting${d.last_error ? `; last error: ${d.last_error}` : ''}`);
    }
  }
  // Counts only: /health answers without credentials, and tool names are the operator's business.
  for (const p of inputs.pinning ?? []) {
    const review = `review with "mcp-edge tools diff ${p.upstream}"`;
    if (p.withheld.length > 0) degraded.push(`upstream "${p.upstream}": ${p.withheld.length} tool(s) withheld, their definitions changed or new and not approved; ${review}`);
    if (p.listedUnapproved.length > 0) degraded.push(`upstream "${p.upstream}": ${p.listedUnapproved.length} tool(s) listed with definitions that are not approved (pinning = "warn"); ${review}`);
  }
  degraded.push(...(inputs.tlsProblems ?? []));
  degraded.push(...(inputs.tpmProblems ?? []));
  const status: HealthStatus = down.length > 0 ? 'down' : degraded.length > 0 ? 'degraded' : 'ok';
  return { status, reasons: [...down, ...degraded] };
}
