// What a log line knows about the request it was written for: the request id,
// the trace, the principal, the MCP session and the tool. One AsyncLocalStorage
// carries it across awaits, so a line written deep in an upstream or the
// queue names its request without a logger being passed down. Setting it up
// costs one small object and one `run` per HTTP request (and per tools/call);
// everything else (the trace id, say) is worked out only when a line is written.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from '../crypto.js';

/** The request a log line belongs to. Keys are as the JSON lines name them. */
export interface RequestLogContext {
  request_id: string;
  /** The W3C traceparent the client sent (header or _meta); parsed only when a line is written. */
  traceparent?: string;
  principal?: string;
  session?: string;
  tool?: string;
}

const storage = new AsyncLocalStorage<RequestLogContext>();

/** The context of the request being served here, if any. */
export function currentLogContext(): RequestLogContext | undefined {
  return storage.getStore();
}

/** Runs `fn` as part of the request `context` (what it logs, however deep, names the request). */
export function runInRequest<T>(context: RequestLogContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * Runs one MCP call inside its request's context, with its own session, tool
 * and traceparent (a batch POST carries several calls). Over stdio there is
 * no HTTP request: the call gets a request id of its own.
 */
export function runInCall<T>(call: { session: string | undefined; tool: string; traceparent: unknown; principal: string }, fn: () => T): T {
  const parent = storage.getStore();
  const context: RequestLogContext = { ...parent, request_id: parent?.request_id ?? nextRequestId(), principal: call.principal, tool: call.tool };
  if (call.session !== undefined) context.session = call.session;
  if (typeof call.traceparent === 'string') context.traceparent = call.traceparent;
  return storage.run(context, fn);
}

// Generated ids: a random prefix per process and a counter; unique enough to find a request's lines, and cheap.
const PREFIX = randomBytes(4).toString('hex');
let counter = 0;

function nextRequestId(): string {
  counter++;
  return `${PREFIX}-${counter.toString(36)}`;
}

/** Longest X-Request-Id taken from a client; a longer one is replaced, never cut (a cut id matches nothing upstream). */
export const MAX_REQUEST_ID = 128;
/** What an X-Request-Id taken from a client may hold: no spaces, quotes or control characters (nothing that could forge a line or a field). */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@\/+=-]+$/;

/** The client's X-Request-Id when it is sane (one header, bounded, safe characters), else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return sane(header) ?? nextRequestId();
}

/** A header's value when it is one bounded run of safe characters. */
function sane(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && header.length > 0 && header.length <= MAX_REQUEST_ID && SAFE_REQUEST_ID.test(header) ? header : undefined;
}

/** The context of one incoming HTTP request. */
export function httpLogContext(headers: Record<string, string | string[] | undefined>): RequestLogContext {
  const context: RequestLogContext = { request_id: requestIdFrom(headers['x-request-id']) };
  const traceparent = headers.traceparent;
  if (typeof traceparent === 'string') context.traceparent = traceparent;
  // The session the client names; an unknown one is refused later, but the line that says so names it.
  const session = sane(headers['mcp-session-id']);
  if (session !== undefined) context.session = session;
  return context;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The trace id of a W3C traceparent, or undefined when it is not one (or is all zeros, which the spec calls invalid). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const id = traceparent === undefined ? undefined : TRACEPARENT.exec(traceparent.trim())?.[1];
  return id === undefined || /^0+$/.test(id) ? undefined : id;
}
