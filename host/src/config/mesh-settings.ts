// [mesh] resolved into what host/src/mesh/ starts with. Paths are absolute;
// multiaddrs stay text (the mesh parses them when it starts).
import { join, resolve } from 'node:path';
import type { MeshConfig } from './mesh-schema.js';

/** One fan-out tool ([[mesh.fan_out]]). */
export interface FanOutSettings {
  name: string;
  tool: string;
  mode: 'all' | 'first' | 'quorum';
  /** mode "quorum": equal answers needed; undefined: more than half of the providers called. */
  quorum: number | undefined;
}

export interface MeshSettings {
  listen: readonly string[];
  /** What peers are told to dial instead of `listen`; empty for the listen addresses. */
  announce: readonly string[];
  /** Whether this node relays connections for others (circuit relay v2). */
  relayService: boolean;
  /** Whether relayed connections are upgraded to direct ones where possible (DCUtR). */
  holePunching: boolean;
  bootstrap: readonly string[];
  mdns: boolean;
  /** The swarm key's path; undefined for an open mesh. */
  networkKeyFile: string | undefined;
  allowedPeers: readonly string[] | undefined;
  share: readonly string[];
  /** Resource URIs and prompt names this node shares. */
  shareResources: readonly string[];
  sharePrompts: readonly string[];
  announceIntervalMs: number;
  callTimeoutMs: number;
  localityMs: number;
  /** Tool name patterns whose peers' replicas rank before this gateway's own. */
  preferRemote: readonly string[];
  fanOut: readonly FanOutSettings[];
  /** Where this node's private key lives: a file, or the TPM (security.use_tpm). */
  identity: 'file' | 'tpm';
  /** This node's private key with identity "file" (created on first start). */
  identityFile: string;
  /** The shared context ([mesh] context*); no spaces means none is shared. */
  context: ContextSettings;
}

export interface ContextSettings {
  spaces: readonly string[];
  maxUpdateBytes: number;
  maxDocBytes: number;
  syncIntervalMs: number;
}

/** Where a node keeps its peer identity. */
export const meshIdentityFile = (dataDir: string): string => join(dataDir, 'mesh', 'identity.key');

/** The mesh's settings; undefined when the mesh is off. */
export function resolveMesh(mesh: MeshConfig, dataDir: string): MeshSettings | undefined {
  if (!mesh.enabled) return undefined;
  return {
    listen: mesh.listen,
    announce: mesh.announce,
    relayService: mesh.relay_service,
    holePunching: mesh.hole_punching,
    bootstrap: mesh.bootstrap,
    mdns: mesh.mdns,
    networkKeyFile: mesh.open ? undefined : resolve(mesh.network_key_file!),
    allowedPeers: mesh.allowed_peers,
    share: mesh.share,
    shareResources: mesh.share_resources,
    sharePrompts: mesh.share_prompts,
    announceIntervalMs: mesh.announce_interval_ms,
    callTimeoutMs: mesh.call_timeout_ms,
    localityMs: mesh.locality_ms,
    preferRemote: mesh.prefer_remote,
    fanOut: mesh.fan_out.map((f) => ({ name: f.name, tool: f.tool, mode: f.mode, quorum: f.quorum })),
    identity: mesh.identity,
    identityFile: meshIdentityFile(dataDir),
    context: {
      spaces: mesh.context,
      maxUpdateBytes: mesh.context_max_update_bytes,
      maxDocBytes: mesh.context_max_doc_bytes,
      syncIntervalMs: mesh.context_sync_interval_ms,
    },
  };
}
