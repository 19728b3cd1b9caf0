// The serving side: the tools, resources and prompts this node shares,
// offered to peers over MCP on the mesh protocol. Only those named in
// mesh.share, share_resources and share_prompts and served by this node itself
// (plugins, upstreams) are offered; a peer's are never passed on, and what a
// peer asks for runs here (ownOnly), so calls cannot loop through the mesh.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { MeshSettings } from '../config/mesh-settings.js';
import type { Aggregator } from '../gateway/aggregator/aggregator.js';
import { INVALID_PARAMS, POLICY_DENIED, RESOURCE_NOT_FOUND } from '../protocol/jsonrpc.js';
import type { Logger } from '../telemetry/log.js';
import { VERSION } from '../version.js';
import type { MeshAdmission } from './attestation.js';
import { sharedItem, sharedTool, type SharedOffer, type SharedTool } from './discovery.js';
import type { MeshNode } from './node.js';
import { MCP_PROTOCOL, StreamTransport } from './stream-transport.js';
import { guardDepth } from '../protocol/json-depth.js';
import { McpError } from '../protocol/mcp-error.js';
import { sharedJsonSchemaValidator } from '../gateway/json-schema-validator.js';

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

/** Everything this node shares now: the listed tools, resources and prompts its settings name, served by this node itself. */
export function sharedOffer(aggregator: Aggregator, settings: Pick<MeshSettings, 'share' | 'shareResources' | 'sharePrompts'>): SharedOffer {
  const uris = new Set(settings.shareResources);
  const prompts = new Set(settings.sharePrompts);
  return {
    tools: sharedTools(aggregator, new Set(settings.share)),
    resources: aggregator.listResources().filter((r) => uris.has(r.uri) && aggregator.ownsResource(r.uri)).map((r) => sharedItem(r)),
    prompts: aggregator.listPrompts().filter((p) => prompts.has(p.name) && aggregator.ownsPrompt(p.name)).map((p) => sharedItem(p)),
  };
}

/** Runs a peer's call once per idempotency key in its `_meta` (the offline queue's memory); absent, the call just runs. */
export type RunOnce = (scope: string, meta: Record<string, unknown> | undefined, run: () => Promise<CallToolResult>) => Promise<CallToolResult>;

const runAlways: RunOnce = (_scope, _meta, run) => run();

/**
 * Answers MCP sessions that peers open on the mesh protocol; a call runs only
 * once `admit` admits its peer, and once per idempotency key (a peer's offline
 * queue resends a call whose answer it lost: `runOnce` answers with the first
 * result). Resources and prompts are read and got the same way, shared ones only.
 */
export async function serveShared(node: MeshNode, aggregator: Aggregator, shared: () => SharedOffer, admit: MeshAdmission, log: Logger, runOnce: RunOnce = runAlways): Promise<void> {
  await node.handle(MCP_PROTOCOL, async (stream, connection) => {
    const peer = connection.remotePeer.toString();
    const admitted = () =>
      admit(peer).catch((err: Error) => {
        throw new McpError(POLICY_DENIED, `this node serves mesh peers only once they attest with their TPM (security.attestation_required): ${err.message}`);
      });
    const server = new Server({ name: 'mcp-edge-mesh', version: VERSION }, { capabilities: { tools: {}, resources: {}, prompts: {} }, jsonSchemaValidator: sharedJsonSchemaValidator });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: shared().tools.map((t) => t.definition) }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { name, arguments: args, _meta } = request.params;
      if (!shared().tools.some((t) => t.definition.name === name)) {
        throw new McpError(INVALID_PARAMS, `Tool "${name}" is not shared with the mesh by this node; mesh.share in its mcp-edge.toml lists the tools it shares.`);
      }
      await admitted();
      const progressToken = _meta?.progressToken;
      // ownOnly: a tool this node offloads to peers runs here all the same; the call must not bounce on.
      const run = () => aggregator.callTool(name, args, { signal: extra.signal, client: extra, ownOnly: true, ...(progressToken !== undefined ? { progressToken } : {}) });
      return runOnce(`mesh:${peer}`, _meta, run);
    });
    server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: shared().resources.map((r) => r.definition) }));
    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
      const { uri } = request.params;
      if (!shared().resources.some((r) => r.definition.uri === uri)) {
        throw new McpError(RESOURCE_NOT_FOUND, `Resource "${uri}" is not shared with the mesh by this node; mesh.share_resources in its mcp-edge.toml lists the resources it shares.`);
      }
      await admitted();
      return aggregator.readResource(uri, { signal: extra.signal, ownOnly: true });
    });
    server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: shared().prompts.map((p) => p.definition) }));
    server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
      const { name, arguments: args } = request.params;
      if (!shared().prompts.some((p) => p.definition.name === name)) {
        throw new McpError(INVALID_PARAMS, `Prompt "${name}" is not shared with the mesh by this node; mesh.share_prompts in its mcp-edge.toml lists the prompts it shares.`);
      }
      await admitted();
      return aggregator.getPrompt(name, args, { signal: extra.signal, ownOnly: true });
    });
    server.onerror = (err) => log.debug(`mesh: session with peer ${peer}: ${err.message}`);
    const transport = new StreamTransport(stream);
    await server.connect(transport);
    guardDepth(transport);
  });
}
