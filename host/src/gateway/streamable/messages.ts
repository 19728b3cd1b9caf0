// JSON-RPC 2.0 message shapes as the Streamable HTTP endpoint checks them.
// Hand-written guards first, for messages that say what is wrong; then the
// SDK's own classification, because a message it cannot classify is dropped
// by its Protocol without an answer, and a POST waiting for that answer would
// hang for as long as the client keeps it open (an extra top-level member,
// a `_meta` that is not an object). A request of the plain kind (isPlainRequest)
// needs no zod at all: the common tools/call costs a few property reads.
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  JSONRPCNotificationSchema,
  JSONRPCRequestSchema,
  RELATED_TASK_META_KEY,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { issuesInWords } from '../../protocol/issues.js';
import { INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR } from '../../protocol/jsonrpc.js';
import { HttpRefusal } from '../../protocol/http-refusal.js';

/** Most messages one POST may carry in a batch. */
export const MAX_BATCH = 100;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** An id an answer can carry back (JSON-RPC allows any number). */
const isId = (v: unknown): v is RequestId => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
/** An id MCP takes: a string or an integer. */
const isMcpId = (v: unknown): v is RequestId => typeof v === 'string' || Number.isInteger(v);

/** Why `raw` is not a JSON-RPC 2.0 message, or undefined when it is one. */
function problem(raw: unknown): string | undefined {
  if (!isObject(raw)) return 'a message must be a JSON object';
  if (raw.jsonrpc !== '2.0') return '"jsonrpc" must be "2.0"';
  if ('method' in raw) {
    if (typeof raw.method !== 'string') return '"method" must be a string';
    if ('params' in raw && raw.params !== undefined && !isObject(raw.params)) return '"params" must be an object';
    if ('id' in raw && !isMcpId(raw.id)) return '"id" must be a string or an integer';
    return undefined;
  }
  if (!isMcpId(raw.id)) return 'a response needs a string or integer "id"';
  if ('result' in raw) return isObject(raw.result) ? undefined : '"result" must be an object';
  if (isObject(raw.error) && Number.isInteger(raw.error.code) && typeof raw.error.message === 'string') return undefined;
  return 'a message needs "method", "result" or an "error" with an integer code and a message';
}

const REQUEST_KEYS = ['jsonrpc', 'id', 'method', 'params'];

/** Whether every own key of `value` is one of `allowed`. */
function keysWithin(value: Json, allowed: readonly string[]): boolean {
  for (const key in value) if (!allowed.includes(key)) return false;
  return true;
}

/**
 * Whether `raw` is a request of the plain kind, which the SDK's
 * JSONRPCRequestSchema accepts as it is: only its four members, an id that is
 * a string or an integer, params an object (or none) whose `_meta`, if any,
 * is an object with at most a string or integer progress token and no related
 * task. The SDK's schema is strict at the top and loose below, so nothing in
 * such a message is changed or refused by it; anything else goes to it.
 */
export function isPlainRequest(raw: unknown): raw is Extract<JSONRPCMessage, { method: string; id: RequestId }> {
  if (!isObject(raw) || raw.jsonrpc !== '2.0' || typeof raw.method !== 'string' || !keysWithin(raw, REQUEST_KEYS)) return false;
  const id = raw.id;
  if (typeof id !== 'string' && !Number.isInteger(id)) return false;
  const params = raw.params;
  if (params === undefined) return true;
  if (!isObject(params)) return false;
  const meta = params._meta;
  if (meta === undefined) return true;
  if (!isObject(meta) || RELATED_TASK_META_KEY in meta) return false;
  const token = meta.progressToken;
  return token === undefined || typeof token === 'string' || Number.isInteger(token);
}

/** Why the SDK would not take `raw` (already past `problem`) as the message it looks like, or undefined when it would. */
function sdkProblem(raw: Json): string | undefined {
  if ('method' in raw) {
    if (isPlainRequest(raw)) return undefined;
    const isCall = 'id' in raw;
    if (isCall ? isJSONRPCRequest(raw) : isJSONRPCNotification(raw)) return undefined;
    const parsed = (isCall ? JSONRPCRequestSchema : JSONRPCNotificationSchema).safeParse(raw);
    return parsed.success ? 'the message is not a request or a notification' : issuesInWords(parsed.error);
  }
  if (isJSONRPCResultResponse(raw) || isJSONRPCErrorResponse(raw)) return undefined;
  return 'a response has only "jsonrpc", "id" and one of "result" or "error"';
}

/** The messages of one POST body (one message or a batch), or an HttpRefusal saying what is wrong. */
export function parseMessages(body: unknown): JSONRPCMessage[] {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new HttpRefusal(400, INVALID_REQUEST, 'Invalid Request: an empty batch.');
  if (list.length > MAX_BATCH) throw new HttpRefusal(400, INVALID_REQUEST, `Invalid Request: a batch must not exceed ${MAX_BATCH} messages.`);
  list.forEach((raw, i) => {
    const why = problem(raw) ?? sdkProblem(raw as Json);
    if (why) throw new HttpRefusal(400, INVALID_REQUEST, `Invalid Request: ${why}${list.length > 1 ? ` (batch item ${i})` : ''}.`);
  });
  return list as JSONRPCMessage[];
}

/** A client's line that is not a message it may send, with the JSON-RPC error that answers it. */
export class MessageRefused extends Error {
  override readonly name = 'MessageRefused';
  constructor(
    readonly code: number,
    message: string,
    /** The line's id when it has one an answer can carry; null (JSON-RPC's "could not be determined") otherwise. */
    readonly id: RequestId | null,
  ) {
    super(message);
  }
}

/**
 * One line a client sent over stdio, checked as an HTTP body's message is
 * (parseMessages), so that what is refused is answered: the SDK's stdio
 * reader drops such a line with no answer, and the client waits for ever.
 * Batches are refused: JSON-RPC answers a batch with one array, which the
 * stdio transport does not write (the SDK's clients do not send them).
 */
export function readClientLine(line: string): JSONRPCMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    throw new MessageRefused(PARSE_ERROR, `Parse error: the line is not valid JSON (${(err as Error).message}).`, null);
  }
  if (Array.isArray(raw)) throw new MessageRefused(INVALID_REQUEST, 'Invalid Request: batches are not read over stdio; send one message per line.', null);
  const why = problem(raw) ?? sdkProblem(raw as Json);
  if (!why) return raw as JSONRPCMessage;
  const id = isObject(raw) && isId(raw.id) ? raw.id : null;
  throw new MessageRefused(INVALID_REQUEST, `Invalid Request: ${why}.`, id);
}

export function isRequest(m: JSONRPCMessage): m is Extract<JSONRPCMessage, { method: string; id: RequestId }> {
  return 'method' in m && 'id' in m && m.id !== undefined;
}

export function isResponse(m: JSONRPCMessage): m is Extract<JSONRPCMessage, { id: RequestId }> & ({ result: unknown } | { error: unknown }) {
  return !('method' in m) && ('result' in m || 'error' in m);
}

export function isInitialize(m: JSONRPCMessage): boolean {
  return isRequest(m) && m.method === 'initialize';
}

/**
 * `message` as JSON. A response JSON.stringify refuses (a BigInt or a cycle
 * in an embedding program's tool result) becomes an internal error for its
 * id, so that its request is still answered; before, the SDK's Protocol
 * reported the failed send and the client waited for an answer that never
 * came. Any other message that cannot be written throws, as before.
 */
export function messageJson(message: JSONRPCMessage): string {
  try {
    return JSON.stringify(message);
  } catch (err) {
    if (!isResponse(message)) throw err;
    return JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: INTERNAL_ERROR, message: `The answer could not be written as JSON (${(err as Error).message}).` } });
  }
}
