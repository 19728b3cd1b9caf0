// Opens the connection to one upstream: a spawned child over stdio, Streamable
// HTTP, or the legacy HTTP+SSE transport (tried when Streamable HTTP is refused
// in the way old servers refuse it).
// Each client transport is imported when the first upstream using it connects
// (Streamable HTTP's brings undici, the legacy one the SDK's OAuth client): a
// gateway without upstreams loads none of them at start (bench/startup/README.md).
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ChildTransport } from './child-transport.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { UpstreamConnection, UpstreamSettings } from '../../config/resolve.js';
import type { Dispatcher } from 'undici';
import { isolating, isolatingFetch } from './fetch.js';

/** An upstream's own TLS settings (security/tls-outgoing.ts): for fetch, and for the lean client's requests. */
export interface UpstreamTls {
  fetch: FetchLike;
  /** The dispatcher to use now (it changes when the files are reloaded). */
  dispatcher: () => Dispatcher;
}
import { tracingFetch } from '../../telemetry/active-span.js';
import { MAX_MESSAGE_BYTES } from '../../protocol/message-size.js';

export interface OpenedTransport {
  transport: Transport;
  /** Which wire protocol ended up connected: stdio, http or sse. */
  kind: 'stdio' | 'http' | 'sse';
  /** The child's pid, for stdio upstreams. */
  pid?: number;
}

/** Lines of a child's stderr go here (bounded by the caller). */
export type StderrSink = (line: string) => void;

type StdioConnection = Extract<UpstreamConnection, { transport: 'stdio' }>;
type RemoteConnection = Exclude<UpstreamConnection, StdioConnection>;

async function stdioTransport(connection: StdioConnection, onStderr: StderrSink): Promise<ChildTransport> {
  const { ChildTransport, inheritedEnvironment } = await import('./child-transport.js');
  const transport = new ChildTransport({
    command: connection.command,
    args: connection.args,
    // A minimal inherited environment (PATH, HOME...), never the gateway's secrets.
    env: { ...inheritedEnvironment(), ...connection.env },
    ...(connection.cwd ? { cwd: connection.cwd } : {}),
    // A line (one message) may be as large as over HTTP.
    maxLineBytes: MAX_MESSAGE_BYTES,
  });
  let partial = '';
  transport.stderr.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    if (partial.length > 4096) partial = partial.slice(0, 4096);
    for (const line of lines) if (line.trim()) onStderr(line.slice(0, 4096));
  });
  return transport;
}

function requestInit(connection: RemoteConnection): RequestInit {
  return { headers: { ...connection.headers } };
}

/** Whether a Streamable HTTP failure looks like a server that only speaks the legacy SSE transport. */
async function suggestsLegacySse(err: unknown): Promise<boolean> {
  const { StreamableHTTPError } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  if (err instanceof StreamableHTTPError) return err.code === 404 || err.code === 405 || err.code === 400;
  const text = String((err as Error)?.message ?? err);
  return /\b(404|405)\b/.test(text);
}

/**
 * Connects `client` to the upstream. For `http`, a refusal typical of old
 * servers (404/405 on POST) falls back to HTTP+SSE on the same URL.
 * `tls` holds the fetch and the dispatcher of the upstream's own TLS settings
 * (tls_ca, tls_cert); the global fetch and a keep-alive agent of its own when it has none.
 */
export async function connectUpstream(client: Client, settings: UpstreamSettings, onStderr: StderrSink, tls?: UpstreamTls): Promise<OpenedTransport> {
  const timeout = { timeout: settings.connectTimeoutMs };
  const connection = settings.connection;
  if (connection.transport === 'stdio') {
    const transport = await stdioTransport(connection, onStderr);
    await client.connect(transport, timeout);
    return { transport, kind: 'stdio', ...(transport.pid !== undefined ? { pid: transport.pid } : {}) };
  }
  const url = new URL(connection.url);
  // The active span's trace context goes to the upstream (telemetry/active-span.ts).
  const isolated = tracingFetch(tls ? isolating(tls.fetch) : isolatingFetch);
  if (connection.transport === 'http') {
    // The gateway's own client transport (lean-http.ts); answer streams that end early are resumed by resume.ts.
    // Loaded with its undici on the first HTTP upstream: a gateway without one never pays for them.
    const { LeanHttpTransport } = await import('./lean-http.js');
    const transport = new LeanHttpTransport(url, {
      headers: connection.headers, upstream: settings.id, timeoutMs: settings.timeoutMs, note: onStderr,
      ...(tls ? { dispatcher: tls.dispatcher } : {}),
    });
    try {
      await client.connect(transport, timeout);
      return { transport, kind: 'http' };
    } catch (err) {
      await transport.close().catch(() => undefined);
      if (!(await suggestsLegacySse(err))) throw err;
      onStderr(`Streamable HTTP refused (${(err as Error).message}); trying the legacy HTTP+SSE transport`);
    }
  }
  const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
  const transport = new SSEClientTransport(url, { requestInit: requestInit(connection), fetch: isolated });
  await client.connect(transport, timeout);
  return { transport, kind: 'sse' };
}
