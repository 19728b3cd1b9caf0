// Real libp2p mesh nodes in the test's own process, on 127.0.0.1, for the
// tests that drive a node and its discovery directly (mesh-live-links,
// mesh-loop-stall, mesh-pnet-memory). What a file starts is stopped, and its
// data folder removed, after the file's tests.
import { rmSync } from 'node:fs';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { afterAll } from 'vitest';
import { meshSchema } from '../../host/src/config/mesh-schema.js';
import { resolveMesh } from '../../host/src/config/mesh-settings.js';
import { Discovery } from '../../host/src/mesh/discovery.js';
import { loadNetworkKey } from '../../host/src/mesh/identity.js';
import { createMeshNode, type MeshNode } from '../../host/src/mesh/node.js';
import { createLogger } from '../../host/src/telemetry/log.js';
import { tempDir } from './processes.js';

export interface MeshNodes {
  /** The file's data folder (a network key file can go here). */
  dir: string;
  /** A started node: in an open mesh, or in the private one of `networkKeyFile`. */
  node(networkKeyFile?: string): Promise<MeshNode>;
  /** A started Discovery on `node`, announcing every `intervalMs`. */
  discovery(node: MeshNode, intervalMs: number): Promise<Discovery>;
}

/** Registers the cleanup with vitest's afterAll: call it at the top of a test file. */
export function meshNodes(prefix: string): MeshNodes {
  const dir = tempDir(prefix);
  const nodes: MeshNode[] = [];
  const discoveries: Discovery[] = [];
  afterAll(async () => {
    for (const d of discoveries) d.stop();
    await Promise.allSettled(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    async node(networkKeyFile) {
      const network = networkKeyFile === undefined ? { open: true } : { network_key_file: networkKeyFile };
      const settings = resolveMesh(meshSchema.parse({ enabled: true, ...network, listen: ['/ip4/127.0.0.1/tcp/0'] }), dir)!;
      const key = networkKeyFile === undefined ? undefined : loadNetworkKey(networkKeyFile);
      const node = await createMeshNode(settings, await generateKeyPair('Ed25519'), key);
      nodes.push(node);
      await node.start();
      return node;
    },
    async discovery(node, intervalMs) {
      const discovery = new Discovery(node, intervalMs, createLogger('silent'));
      discoveries.push(discovery);
      await discovery.start();
      return discovery;
    },
  };
}
