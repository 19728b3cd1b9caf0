// How large one MCP message may be wherever the gateway reads messages as a
// stream of bytes from another process (an upstream's JSON answer or SSE
// event, a stdio upstream's line, a mesh peer's line). One bound for all, so
// that an answer that passes over HTTP also passes over stdio or the mesh,
// and none can grow without end: the SDK's own line reader threw past its
// default of 10 MiB. A client's request body has its own, configured limit
// (gateway.max_body_bytes).
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
