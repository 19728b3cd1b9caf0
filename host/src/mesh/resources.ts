// The mesh as MCP resources of this gateway: mcp-edge://mesh (this node, its
// peers and every tool they share, with digests) and
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

/** This node, its peers and their shared tools (the mcp-edge://mesh resource, GET /v1/mesh, the dashboard). */
export interface MeshReport {
  peer_id: string;
  addresses: string[];
  connections: number;
  shares: SharedTool[];
  peers: { peer_id: string; provider: string; state: string; heard?: string; tools: SharedTool[] }[];
}

/** This node, its peers and their shared tools, as JSON. */
export function meshReport(mesh: Mesh): MeshReport {
  return {
    peer_id: mesh.peerId,
    addresses: mesh.addresses(),
    connections: mesh.node.getConnections().length,
    shares: mesh.shared().map((t) => ({ name: t.definition.name, digest: t.digest, idempotent: t.idempotent })),
    peers: [...mesh.peers.values()].map((provider) => {
      const entry = mesh.discovery.entry(provider.peer);
      return {
        peer_id: provider.peer,
        provider: provider.id,
        state: provider.health().state,
        ...(entry ? { heard: new Date(entry.heardAt).toISOString() } : {}),
        tools: entry?.tools.map((t) => ({ name: t.definition.name, digest: t.digest, idempotent: t.idempotent })) ?? [],
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
      description: "This gateway's mesh node, its peers, and the tools each shares (with definition digests).",
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
