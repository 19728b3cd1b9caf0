// Recording MCP operations (tools/call, resources/read, prompts/get) as they
// end: the outcome and the latency measured around the whole handler, so that
// a refusal inside it (a withheld tool, an authorization rule, a rate limit)
// is recorded as a denial, and a timeout as the error the client got.
import { performance } from 'node:perf_hooks';
import { INTERNAL_ERROR, POLICY_DENIED, RATE_LIMITED, TOOL_WITHHELD } from '../../protocol/jsonrpc.js';
import type { Principal } from '../principal.js';
import type { AuditEvent, AuditOutcome } from './event.js';
import type { AuditRecorder } from './log.js';
import { wirePrincipal } from './wire.js';

/**
 * JSON-RPC codes that mean "not allowed" rather than "failed": recorded with
 * outcome "denied". Authorization and rate limits add theirs here.
 */
export const DENIAL_CODES = new Set<number>([TOOL_WITHHELD]);

/**
 * JSON-RPC codes of refusals recorded where they are decided (a denial hook
 * that records them itself, with the reason): left out here, so that each
 * refusal is one row: authorization and rate limits report to Gateway.denied.
 */
export const RECORDED_ELSEWHERE = new Set<number>([POLICY_DENIED, RATE_LIMITED]);

/** The code of a tool result with isError: true (the tool ran and said it failed). */
export const TOOL_ERROR_CODE = -1;

export interface AuditedOperation {
  operation: 'tools/call' | 'resources/read' | 'prompts/get';
  principal: Principal;
  session: string | undefined;
  target: string;
  arguments: unknown;
}

/** The outcome an error ends an operation with, and its code. */
function failure(err: unknown): { outcome: AuditOutcome; code: number; detail: string } {
  const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : INTERNAL_ERROR;
  return { outcome: DENIAL_CODES.has(code) ? 'denied' : 'error', code, detail: err instanceof Error ? err.message : String(err) };
}

const isErrorResult = (result: unknown): boolean => typeof result === 'object' && result !== null && (result as { isError?: unknown }).isError === true;

/** Runs `run` and records how it ended; the result or the error goes on unchanged. */
export async function audited<T>(audit: AuditRecorder, op: AuditedOperation, run: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const base: AuditEvent = { operation: op.operation, outcome: 'ok', principal: wirePrincipal(op.principal), target: op.target, at: Date.now() };
  if (op.principal.address !== undefined) base.address = op.principal.address;
  if (op.session !== undefined) base.session = op.session;
  if (op.arguments !== undefined) base.arguments = op.arguments;
  if (!audit.admits()) {
    const detail = 'the audit log is full (audit.on_overflow = "refuse"): the operation was refused because it could not be recorded; try again shortly';
    audit.record({ ...base, outcome: 'refused', code: INTERNAL_ERROR, detail, latencyMs: 0 });
    throw Object.assign(new Error(`${detail}.`), { code: INTERNAL_ERROR });
  }
  try {
    const result = await run();
    base.latencyMs = performance.now() - start;
    if (isErrorResult(result)) {
      base.outcome = 'error';
      base.code = TOOL_ERROR_CODE;
    }
    audit.record(base);
    return result;
  } catch (err) {
    base.latencyMs = performance.now() - start;
    const failed = failure(err);
    if (!RECORDED_ELSEWHERE.has(failed.code)) audit.record(Object.assign(base, failed));
    throw err;
  }
}
