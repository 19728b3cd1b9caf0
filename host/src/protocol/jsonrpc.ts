// The JSON-RPC error codes the gateway sends and reads, owned here and
// nowhere else. A leaf: it imports nothing, so every layer (transport,
// providers, queue, aggregator) may use it. Which error gets which code is
// decided in one function, jsonRpcErrorOf (protocol/errors.ts).
//
// Two numbers carry two meanings each, as in the MCP SDK: -32000 and -32001
// are the SDK's "connection closed" and "request timeout" on a client
// connection, and the Streamable HTTP transport's "refused" and "session not
// found" on an HTTP answer. They are named apart so each use says which.

// JSON-RPC 2.0: the specification's own codes.

/** The request body is not JSON. */
export const PARSE_ERROR = -32700;
/** The body is JSON but not a valid JSON-RPC message, batch or request order (initialize alone, once); also a body over the size limit. */
export const INVALID_REQUEST = -32600;
/** No such method. The gateway reads it from upstreams: the call never ran there. */
export const METHOD_NOT_FOUND = -32601;
/** The method exists but its params are wrong: an unknown tool, prompt or task, a bad cursor. */
export const INVALID_PARAMS = -32602;
/** A valid request the gateway could not serve: a provider's failure, a queue refusal, a bug. */
export const INTERNAL_ERROR = -32603;

// MCP: the specification and the SDK's transports.

/** MCP: resources/read or resources/subscribe named a URI no provider offers. */
export const RESOURCE_NOT_FOUND = -32002;
/** SDK: the connection to a peer closed before it answered (the peer may never have seen the request). */
export const CONNECTION_CLOSED = -32000;
/** SDK: a request ran out of time (the gateway's request_timeout_ms, or an upstream call's own limit). */
export const REQUEST_TIMEOUT = -32001;
/** Streamable HTTP: the transport refused the HTTP request (headers, method, Host/Origin, too many sessions); the HTTP status says which. */
export const HTTP_REFUSED = -32000;
/** Streamable HTTP: the Mcp-Session-Id names no open session (it expired, or the gateway restarted). */
export const SESSION_NOT_FOUND = -32001;

// The gateway's own, in the range JSON-RPC leaves to servers (-32000 to -32099).

/** No provider of the tool can serve it now: all down, circuit open, or one failed without answering. */
export const PROVIDER_UNAVAILABLE = -32010;
/** Tool pinning: the tool's upstream changed its definition (or offers it new) and no operator approved it yet. */
export const TOOL_WITHHELD = -32011;
/** Authorization ([authorization]): the caller's principal may not use this tool, resource, prompt, route or admin operation. */
export const POLICY_DENIED = -32012;
/** Rate limits ([rate_limits]): the caller's bucket is empty; `data.retry_after_seconds` says when to try again (HTTP: 429 with Retry-After). */
export const RATE_LIMITED = -32013;
/** An upstream's sampling/createMessage that neither its client nor the gateway may answer ([models] answer_sampling = "never", or a request the gateway's models cannot take); `data.code` says which. */
export const SAMPLING_REFUSED = -32014;
/** The gateway's models ([models]) could not answer: nothing configured, or every engine failed; `data.code` is the model error's code. */
export const MODEL_UNAVAILABLE = -32015;

/** The `error` member of a JSON-RPC response. */
export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * Whether an error code means the link failed (closed, or no answer in
 * time), so the peer may not have acted, rather than that the peer answered
 * no. Link failures are retried, failed over or queued; answers are final.
 */
export function isLinkFailure(code: number): boolean {
  return code === CONNECTION_CLOSED || code === REQUEST_TIMEOUT;
}
