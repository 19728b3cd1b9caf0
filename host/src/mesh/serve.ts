// The serving side: the tools this node shares, offered to peers over MCP on
// the mesh protocol. Only tools named in mesh.share and served by this node
// itself (plugins, upstreams) are offered; a peer's tools are never passed on,
// so calls cannot loop through the mesh.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Aggregator } from '../gateway/aggregator/aggregator.js';
import { INVALID_PARAMS, POLICY_DENIED } from '../protocol/jsonrpc.js';
import type { Logger } from '../telemetry/log.js';
import { VERSION } from '../version.js';
import type { MeshAdmission } from './attestation.js';
import { sharedTool, type SharedTool } from './discovery.js';
import type { MeshNode } from './node.js';
import { MCP_PROTOCOL, StreamTransport } from './stream-transport.js';

/** The listed tools of this node that mesh.share names, with their digests. */
export function sharedTools(aggregator: Aggregator, share: ReadonlySet<string>): SharedTool[] {
  return aggregator
    .listTools()
    .filter((tool) => share.has(tool.name))
    .flatMap((tool) => {
      const target = aggregator.toolTarget(tool.name);
      if (!target || target.provider.kind === 'peer') return [];
      const hints = target.tool.annotations;
      const idempotent = Boolean(hints?.idempotentHint || hints?.readOnlyHint || target.provider.idempotentTools?.().has(target.name));
      return [sharedTool(tool, idempotent)];
    });
}

/** Runs a peer's call once per idempotency key in its `_meta` (the offline queue's memory); absent, the call just runs. */
export type RunOnce = (scope: string, meta: Record<string, unknown> | undefined, run: () => Promise<CallToolResult>) => Promise<CallToolResult>;

const runAlways: RunOnce = (_scope, _meta, run) => run();

/**
 * Answers MCP sessions that peers open on the mesh protocol; a call runs only
 * once `admit` admits its peer, and once per idempotency key (a peer's offline
 * queue resends a call whose answer it lost: `runOnce` answers with the first result).
 */
export async function serveSharedTools(node: MeshNode, aggregator: Aggregator, shared: () => readonly Tool[], admit: MeshAdmission, log: Logger, runOnce: RunOnce = runAlways): Promise<void> {
  await node.handle(MCP_PROTOCOL, async (stream, connection) => {
    const peer = connection.remotePeer.toString();
    const server = new Server({ name: 'mcp-edge-mesh', version: VERSION }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [...shared()] }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { name, arguments: args, _meta } = request.params;
      if (!shared().some((t) => t.name === name)) {
        throw new McpError(INVALID_PARAMS, `Tool "${name}" is not shared with the mesh by this node; mesh.share in its mcp-edge.toml lists the tools it shares.`);
      }
      await admit(peer).catch((err: Error) => {
        throw new McpError(POLICY_DENIED, `this node serves mesh peers only once they attest with their TPM (security.attestation_required): ${err.message}`);
      });
      const progressToken = _meta?.progressToken;
      // ownOnly: a tool this node offloads to peers runs here all the same; the call must not bounce on.
      const run = () => aggregator.callTool(name, args, { signal: extra.signal, client: extra, ownOnly: true, ...(progressToken !== undefined ? { progressToken } : {}) });
      return runOnce(`mesh:${peer}`, _meta, run);
    });
    server.onerror = (err) => log.debug(`mesh: session with peer ${peer}: ${err.message}`);
    await server.connect(new StreamTransport(stream));
  });
}
