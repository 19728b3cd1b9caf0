// Every error the gateway answers a client with becomes a JSON-RPC error in
// one function, jsonRpcErrorOf. Protocol errors (an McpError, the host's or the
// SDK's, from providers and upstreams) pass as they are. The gateway's local errors carry
// stable string codes (STYLE 4): each kind gets the JSON-RPC code that tells
// a client what it can do about it, and keeps its own code in `data.code`.
// Anything else is a bug: INTERNAL_ERROR, with its details left to the log.
//
// This module sits above the error classes it maps; the codes themselves live
// in the leaf protocol/jsonrpc.ts, so the modules that define those errors
// never import this one.
import { ConfigError } from '../config/load.js';
import { CoreError } from '../core/errors.js';
import { HttpRefusal } from './http-refusal.js';
import { PromptError } from '../providers/local/prompts.js';
import { ResourceNotFoundError } from '../providers/local/resources.js';
import { QueueError, type QueueErrorCode } from '../queue/errors.js';
import { UnknownToolError } from '../tools/registry.js';
import { INTERNAL_ERROR, INVALID_PARAMS, RESOURCE_NOT_FOUND, type JsonRpcError } from './jsonrpc.js';
import { McpError, isMcpError } from './mcp-error.js';

/** What a client is told of an error the gateway did not expect; the log has the rest. */
export const INTERNAL_ERROR_MESSAGE = 'Internal error in the gateway; see its log.';

/**
 * A queue error names a task the client got wrong (invalid params), or a call
 * the gateway could not take or keep (internal: the request itself was valid).
 */
const QUEUE_ERROR_CODES: Record<QueueErrorCode, number> = {
  'not-found': INVALID_PARAMS,
  'in-flight': INVALID_PARAMS,
  full: INTERNAL_ERROR,
  'too-large': INTERNAL_ERROR,
  unpackable: INTERNAL_ERROR,
  'bad-destination': INTERNAL_ERROR,
  'unknown-destination': INTERNAL_ERROR,
  'key-conflict': INTERNAL_ERROR,
  'storage-full': INTERNAL_ERROR,
  'storage-read-only': INTERNAL_ERROR,
  storage: INTERNAL_ERROR,
  closed: INTERNAL_ERROR,
  loading: INTERNAL_ERROR,
};

/** The JSON-RPC error a client gets for `err`. */
export function jsonRpcErrorOf(err: unknown): JsonRpcError {
  if (isMcpError(err)) return withData(err.code, err.message, err.data);
  if (err instanceof HttpRefusal) return { code: err.rpcCode, message: err.message };
  // A name the client sent that the gateway does not offer (now).
  if (err instanceof UnknownToolError || err instanceof PromptError) return { code: INVALID_PARAMS, message: err.message };
  if (err instanceof ResourceNotFoundError) return { code: RESOURCE_NOT_FOUND, message: err.message, data: { uri: err.uri } };
  if (err instanceof QueueError) return { code: QUEUE_ERROR_CODES[err.code], message: err.message, data: { code: err.code } };
  // Tools that hand client data to the core answer its refusals as tool errors; one that escapes is the gateway's.
  if (err instanceof CoreError) return { code: INTERNAL_ERROR, message: err.message, data: { code: err.code } };
  // The message names the key and what to change: it is meant for whoever runs the gateway.
  if (err instanceof ConfigError) return { code: INTERNAL_ERROR, message: err.message };
  return { code: INTERNAL_ERROR, message: INTERNAL_ERROR_MESSAGE };
}

/** `err` as an McpError, for an MCP handler to throw (the SDK sends its code, message and data). */
export function toMcpError(err: unknown): McpError {
  if (isMcpError(err)) return err;
  const { code, message, data } = jsonRpcErrorOf(err);
  return new McpError(code, message, data);
}

function withData(code: number, message: string, data: unknown): JsonRpcError {
  return data === undefined ? { code, message } : { code, message, data };
}
