// `mcp-edge stdio`: a gateway's MCP session on stdin/stdout, for a client
// that starts it as a child (Claude Desktop). Two things the SDK's stdio
// transport does not do: every line that is not a message the client may send
// is answered with a JSON-RPC error (the SDK dropped it, and its sender waited
// for ever), and when stdin ends the requests already read are answered
// before the process exits (the MCP spec's shutdown is the client closing
// stdin; `printf '...' | mcp-edge stdio` lost every answer not written yet).
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { Gateway } from '../gateway/gateway.js';
import { INVALID_REQUEST } from '../protocol/jsonrpc.js';

/** Beyond a call's own time limit, how long an ended stdin waits for the last answers. */
const DRAIN_MARGIN_MS = 1000;

/** Serves `gateway` on stdin/stdout; `closed` runs once the session has ended (stdin ended and drained, or the transport closed). */
export async function serveStdio(gateway: Gateway, closed: () => void): Promise<void> {
  // The SDK's stdio transport comes with its message schemas: `serve` does not load it.
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const { LineDropped, withLineBuffer } = await import('../protocol/line-buffer.js');
  const { MessageRefused, readClientLine } = await import('../gateway/streamable/messages.js');
  // A client's message has one bound over either transport: gateway.max_body_bytes, an HTTP body's.
  // A longer line is dropped as it arrives and answered (below); the SDK's own buffer (10 MiB)
  // closed the transport, and so ended the process.
  const transport = withLineBuffer(new StdioServerTransport(), gateway.settings.http.maxBodyBytes, 'skip', readClientLine);
  transport.onclose = closed;
  await gateway.connect(transport);
  const answer = (id: RequestId | null, code: number, message: string) =>
    void transport.send({ jsonrpc: '2.0', id, error: { code, message } } as unknown as JSONRPCMessage).catch(() => undefined);
  const reported = transport.onerror;
  transport.onerror = (err) => {
    // A dropped line's id is in the bytes dropped: the answer has id null (JSON-RPC's "could not be determined").
    if (err instanceof LineDropped) answer(null, INVALID_REQUEST, `Request dropped: ${err.message} (gateway.max_body_bytes); send smaller messages.`);
    else if (err instanceof MessageRefused) answer(err.id, err.code, err.message);
    reported?.(err);
  };
  const pending = trackRequests(transport);
  process.stdin.once('end', () => {
    const deadline = setTimeout(() => void transport.close(), gateway.settings.requestTimeoutMs + DRAIN_MARGIN_MS);
    pending.whenNone(() => {
      clearTimeout(deadline);
      void transport.close();
    });
  });
}

interface Tracked {
  /** Runs `then` once no request of the client is waiting for its answer (at once when none is). */
  whenNone(then: () => void): void;
}

/** Follows the client's requests on `transport` from the moment they are delivered to their answer (or cancellation). */
function trackRequests(transport: { onmessage?: (message: JSONRPCMessage, extra?: never) => void; send: (message: JSONRPCMessage, options?: never) => Promise<void> }): Tracked {
  const waiting = new Set<RequestId>();
  let idle: (() => void) | undefined;
  const settled = (id: unknown) => {
    waiting.delete(id as RequestId);
    if (waiting.size === 0) idle?.();
  };
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if ('method' in message && 'id' in message) waiting.add(message.id);
    // A cancelled request is not answered (MCP's cancellation).
    if ('method' in message && message.method === 'notifications/cancelled') settled((message.params as { requestId?: unknown } | undefined)?.requestId);
    deliver?.(message, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    await send(message, options);
    if (!('method' in message) && 'id' in message) settled(message.id);
  };
  return {
    whenNone(then) {
      if (waiting.size === 0) return then();
      idle = then;
    },
  };
}
