// Delivers queued calls to destinations that speak MCP over Streamable HTTP
// (an upstream server, or a peer mcp-edge that remembers idempotency keys).
// One client per destination, reconnected after a link failure.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { MessageTooLarge } from '../protocol/bounded-body.js';
import { isLinkFailure } from '../protocol/jsonrpc.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isolating, isolatingFetch } from '../providers/upstream/fetch.js';
import { VERSION } from '../version.js';
import { IDEMPOTENCY_META_KEY } from './idempotency.js';
import { BatchClient, BatchRefused } from './batch-client.js';
import { DestinationError, type BatchDeliverer, type Deliverer, type DeliveryCall } from './delivery.js';
import { isMcpError } from '../protocol/mcp-error.js';

export interface McpDeliverer {
  deliver: Deliverer;
  /** JSON-RPC batches to URL destinations (null for a destination that refused one: send singly). */
  deliverMany: BatchDeliverer;
  close(): Promise<void>;
}

/** The SDK's result schema for tools/call, loaded by the first connectClient; every delivery comes after one. */
let callToolResultSchema: typeof CallToolResultSchema | undefined;

/** A client connected to `url`; the SDK's client, its Streamable HTTP transport and its schemas load with the first (a gateway that delivers to no URL never loads them). */
async function connectClient(url: URL, fetch: FetchLike): Promise<Client> {
  const [{ Client }, { StreamableHTTPClientTransport }, types] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]);
  callToolResultSchema ??= types.CallToolResultSchema;
  const client = new Client({ name: 'mcp-edge-queue', version: VERSION });
  await client.connect(new StreamableHTTPClientTransport(url, { fetch }));
  return client;
}

/**
 * `fetchOf` holds the fetch of each destination that has TLS settings of its
 * own (tls_ca, tls_cert: security/tls-outgoing.ts); the others use the
 * global fetch.
 */
export function mcpHttpDeliverer(urls: Record<string, string>, timeoutMs: number, fetchOf: Readonly<Record<string, FetchLike>> = {}): McpDeliverer {
  const clients = new Map<string, Promise<Client>>();
  const connect = (destination: string): Promise<Client> => {
    const existing = clients.get(destination);
    if (existing) return existing;
    const url = urls[destination];
    if (!url) return Promise.reject(new DestinationError(`no URL configured for destination "${destination}"`));
    // isolatingFetch: the transport's one connection-wide signal must not collect a listener per delivery.
    const tlsFetch = fetchOf[destination];
    const fetch = tlsFetch ? isolating(tlsFetch) : isolatingFetch;
    const p = connectClient(new URL(url), fetch);
    clients.set(destination, p);
    p.catch(() => clients.delete(destination));
    return p;
  };
  const drop = (destination: string) => {
    const p = clients.get(destination);
    clients.delete(destination);
    p?.then((c) => c.close()).catch(() => undefined);
  };
  const deliver = async (destination: string, call: DeliveryCall, signal: AbortSignal): Promise<CallToolResult> => {
    const client = await connect(destination);
    // The SDK never removes the abort listener it adds to a request's signal:
    // give it a signal per call, linked to the long-lived one, so none pile up.
    const perCall = new AbortController();
    const abort = () => perCall.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    try {
      const params = { name: call.tool, arguments: call.arguments, _meta: { [IDEMPOTENCY_META_KEY]: call.idempotencyKey } };
      return (await client.request({ method: 'tools/call', params }, callToolResultSchema!, { signal: perCall.signal, timeout: timeoutMs })) as CallToolResult;
    } catch (err) {
      if (isMcpError(err) && !isLinkFailure(err.code)) throw new DestinationError(`${destination} refused the call: ${err.message}`);
      // The call ran, and its answer cannot be brought back: asking again would bring the same.
      if (err instanceof MessageTooLarge) throw new DestinationError(`${destination} answered the call: ${err.message}`);
      drop(destination);
      throw err;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  };
  const batchers = new Map<string, BatchClient | null>();
  const deliverMany: BatchDeliverer = async (destination, calls, signal) => {
    let batcher = batchers.get(destination);
    const url = urls[destination];
    if (batcher === null || url === undefined) return null;
    if (!batcher) batchers.set(destination, (batcher = new BatchClient(url, fetchOf[destination] ?? fetch, timeoutMs)));
    try {
      return await batcher.send(calls, signal);
    } catch (err) {
      if (!(err instanceof BatchRefused)) throw err;
      // Nothing ran; from now on this destination gets one call per request.
      batchers.set(destination, null);
      void batcher.close();
      return null;
    }
  };
  const close = async () => {
    const all = [...clients.values()];
    clients.clear();
    const batching = [...batchers.values()];
    batchers.clear();
    await Promise.allSettled([...all.map(async (p) => (await p).close()), ...batching.map((b) => b?.close())]);
  };
  return { deliver, deliverMany, close };
}
