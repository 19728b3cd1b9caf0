// What the audit log records: one AuditEvent per audited operation (a
// tools/call, a resource read, a prompt get, a refused authentication, a
// denial, an admin action), and the row it becomes in SQLite. The gateway and
// the CLI build events; only the writer (log.ts) turns them into rows.
import { hash } from '../../crypto.js';
import { canonicalJson } from '../pinning/digest.js';

/**
 * How it ended: ok; error (the operation ran and failed: `code` is the
 * JSON-RPC code, or -1 for a tool result with isError); denied (a policy
 * said no: another principal's session, a withheld tool, an authorization
 * rule); refused (authentication failed: `code` is the HTTP status); gap
 * (the writer dropped records: `code` is how many).
 */
export type AuditOutcome = 'ok' | 'error' | 'denied' | 'refused' | 'gap';

export interface AuditEvent {
  /** What was done: "tools/call", "resources/read", "prompts/get", "authenticate", "session", "POST /v1/queue/sync", "keys create", ... */
  operation: string;
  outcome: AuditOutcome;
  /** Who did it (absent when authentication failed: nobody was established). */
  principal?: { readonly id: string; readonly kind: string };
  /** The remote address of the connection; absent over stdio and from the CLI. */
  address?: string;
  /** The MCP session id. */
  session?: string;
  /** The tool, resource URI, prompt, route or key name it was about. */
  target?: string;
  /** The arguments: digested always (SHA-256 of canonical JSON), stored only with audit.record_arguments. */
  arguments?: unknown;
  /** JSON-RPC error code (error), HTTP status (refused, denied on a route), dropped records (gap). */
  code?: number;
  /** Why, in words (an error message, a refusal's reason), cut to DETAIL_MAX characters. */
  detail?: string;
  /** How long it took, in ms (fractions kept to the microsecond). */
  latencyMs?: number;
  /** When it happened, ms since epoch; the writer fills in the time of record() when absent. */
  at?: number;
}

/** One row of audit_log, as stored and exported. */
export interface AuditRow {
  seq: number;
  at_ms: number;
  operation: string;
  principal_id: string | null;
  principal_kind: string | null;
  address: string | null;
  session: string | null;
  target: string | null;
  args_digest: string | null;
  arguments: string | null;
  outcome: string;
  code: number | null;
  detail: string | null;
  latency_us: number | null;
  hash: string;
}

/** A row's content: everything but its hash. */
export type AuditContent = Omit<AuditRow, 'hash'>;

/** The hash before the first row ever written. */
export const GENESIS_HASH = '0'.repeat(64);

const DETAIL_MAX = 500;

/** SHA-256 (hex) of the arguments' canonical JSON: equal arguments have equal digests, whatever their key order. */
export function argumentsDigest(canonical: string): string {
  return hash('sha256', canonical, 'hex');
}

/**
 * The arguments' canonical JSON; when they have none (they nest too deep for
 * JSON.stringify, or hold a cycle: an embedding program's, as a client's
 * messages are refused past protocol/json-depth.ts's limit), a JSON string
 * saying so, which is then what is digested and kept. An event is recorded
 * whatever its arguments: a throw here would stop the writer.
 */
export function recordableJson(args: unknown): string {
  try {
    return canonicalJson(args);
  } catch (err) {
    return JSON.stringify(`(arguments not recordable: ${(err as Error).message})`);
  }
}

/** The row an event becomes at `seq` (its hash not yet computed). */
export function contentOf(event: AuditEvent, seq: number, recordArguments: boolean): AuditContent {
  const canonical = event.arguments === undefined ? undefined : recordableJson(event.arguments);
  return {
    seq,
    at_ms: Math.trunc(event.at ?? Date.now()),
    operation: event.operation,
    principal_id: event.principal?.id ?? null,
    principal_kind: event.principal?.kind ?? null,
    address: event.address ?? null,
    session: event.session ?? null,
    target: event.target ?? null,
    args_digest: canonical === undefined ? null : argumentsDigest(canonical),
    arguments: canonical !== undefined && recordArguments ? canonical : null,
    outcome: event.outcome,
    code: event.code === undefined ? null : Math.trunc(event.code),
    detail: event.detail === undefined ? null : event.detail.slice(0, DETAIL_MAX),
    latency_us: event.latencyMs === undefined ? null : Math.round(event.latencyMs * 1000),
  };
}

/**
 * The chain: a row's hash is SHA-256 over the previous row's hash, a newline
 * and the row's canonical content (its columns in table order, as a JSON
 * array). Changing any column of a row, or the row before it, changes it.
 */
export function chainHash(previous: string, row: AuditContent): string {
  const content = JSON.stringify([
    row.seq,
    row.at_ms,
    row.operation,
    row.principal_id,
    row.principal_kind,
    row.address,
    row.session,
    row.target,
    row.args_digest,
    row.arguments,
    row.outcome,
    row.code,
    row.detail,
    row.latency_us,
  ]);
  // crypto.hash: one call, no Hash object (a few µs per record less than createHash at 100k records/s).
  return hash('sha256', `${previous}\n${content}`, 'hex');
}
