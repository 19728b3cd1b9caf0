// The MCP protocol error the host throws, and the one test for "is this an
// MCP error" (isMcpError). Not the SDK's McpError: that class lives in
// @modelcontextprotocol/sdk/types.js beside every request and result schema of
// the protocol, which zod builds when the module loads (~6.5 MB of V8 heap), and
// an idle gateway does not load it: the SDK comes with the first MCP session
// (bench/startup/README.md, "Idle footprint"). The SDK's Server answers any
// thrown error with a numeric `code` the same way (code, message, data), so the
// client sees no difference. The SDK's own Client and Server throw their own
// class: isMcpError accepts both, which is why no host module tests
// `instanceof McpError`.
//
// A leaf: it imports nothing, so any module may throw one.

/** A JSON-RPC error for the client: `code` (protocol/jsonrpc.ts), a message, optional data. */
export class McpError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    // The SDK's wording, so a message reads the same whichever class carried it.
    super(`MCP error ${code}: ${message}`);
    this.name = 'McpError';
  }
}

/** The host's McpError or the SDK's (from its Client or Server): both carry a numeric code. */
export function isMcpError(err: unknown): err is McpError {
  return err instanceof Error && err.name === 'McpError' && typeof (err as { code?: unknown }).code === 'number';
}
