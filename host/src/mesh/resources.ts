// The mesh as MCP resources of this gateway: mcp-edge://mesh (this node, its
// peers and every tool, resource and prompt they share, with digests) and
// mcp-edge://mesh/providers/{tool} (who provides a tool: announcements, or the
// DHT's provider records when no live peer announced it).
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import type { ResourceDefinition, ResourceTemplateDefinition } from '../providers/local/resources.js';
import type { Mesh } from './mesh.js';

const json = (uri: string, value: unknown): ReadResourceResult => ({ contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }] });

interface SharedTool {
  name: string;
  digest: string;
  idempotent: boolean;
}

/** A shared resource (its URI) or prompt (its name) and its digest. */
interface SharedItem {
  name: string;
  digest: string;
}

/** This node, its peers and what they share (the mcp-edge://mesh resource, GET /v1/mesh, the dashboard). */
export interface MeshReport {
  peer_id: string;
  addresses: string[];
  connections: number;
  shares: SharedTool[];
  shares_resources: SharedItem[];
  shares_prompts: SharedItem[];
  /** `links`: the remote addresses of the open connections to the peer ("/p2p-circuit" in one: relayed). */
  peers: { peer_id: string; provider: string; state: string; heard?: string; links: string[]; tools: SharedTool[]; resources: SharedItem[]; prompts: SharedItem[] }[];
}

const resourceItems = (list: readonly { definition: { uri: string }; digest: string }[]): SharedItem[] => list.map((r) => ({ name: r.definition.uri, digest: r.digest }));
const promptItems = (list: readonly { definition: { name: string }; digest: string }[]): SharedItem[] => list.map((p) => ({ name: p.definition.name, digest: p.digest }));

/** This node, its peers and their shared tools, as JSON. */
export function meshReport(mesh: Mesh): MeshReport {
  return {
    peer_id: mesh.peerId,
    addresses: mesh.addresses(),
    connections: mesh.node.getConnections().length,
    shares: mesh.shared().map((t) => ({ name: t.definition.name, digest: t.digest, idempotent: t.idempotent })),
    shares_resources: resourceItems(mesh.sharedOffer().resources),
    shares_prompts: promptItems(mesh.sharedOffer().prompts),
    peers: [...mesh.peers.values()].map((provider) => {
      const entry = mesh.discovery.entry(provider.peer);
      return {
        peer_id: provider.peer,
        provider: provider.id,
        state: provider.health().state,
        ...(entry ? { heard: new Date(entry.heardAt).toISOString() } : {}),
        links: mesh.links(provider.peer),
        tools: entry?.tools.map((t) => ({ name: t.definition.name, digest: t.digest, idempotent: t.idempotent })) ?? [],
        resources: resourceItems(entry?.resources ?? []),
        prompts: promptItems(entry?.prompts ?? []),
      };
    }),
  };
}

export function meshResources(mesh: Mesh): { resource: ResourceDefinition; template: ResourceTemplateDefinition } {
  return {
    resource: {
      uri: 'mcp-edge://mesh',
      name: 'mesh',
      title: 'Mesh peers and their tools',
      description: "This gateway's mesh node, its peers, and the tools, resources and prompts each shares (with definition digests).",
      mimeType: 'application/json',
      read: (uri) => json(uri.href, meshReport(mesh)),
    },
    template: {
      uriTemplate: 'mcp-edge://mesh/providers/{tool}',
      name: 'mesh-providers',
      title: 'Who provides a tool on the mesh',
      description: "The peer ids that provide a tool (by the name its node shares it under), from live peers' announcements, or DHT provider records when none announced it.",
      mimeType: 'application/json',
      read: async (uri, variables) => {
        const tool = decodeURIComponent(String(variables.tool));
        return json(uri.href, { tool, providers: await mesh.lookup(tool) });
      },
    },
  };
}
