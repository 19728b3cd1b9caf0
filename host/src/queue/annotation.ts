// How an upstream marks a tool deferrable: `_meta["dev.mcp-edge/deferrable"]
// = true` on the tool in its tools/list. The same key on a tools/call is a
// client asking for deferral (see mcp.ts). A call to such a tool, made as a
// task (or marked by the client), waits in the offline queue for that
// upstream and is delivered through it, with its idempotency key.

/** On a tool in tools/list: the tool may be deferred; on a call: defer it. */
export const DEFERRABLE_TOOL_META_KEY = 'dev.mcp-edge/deferrable';
