// One `mcp-edge serve` process with a [mesh] section, for the mesh tests that
// run real gateways as separate processes (mesh-processes, mesh-context,
// mesh-offline).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'smol-toml';
import { spawnCli, waitForOutput } from './processes.js';

export interface MeshServe {
  child: ChildProcess;
  /** Its MCP endpoint (http://127.0.0.1:PORT/mcp). */
  url: string;
  peerId: string;
  /** Its mesh addresses, each ending in /p2p/<peer id>. */
  addresses: string[];
}

/**
 * Writes `config` to `dir/name.toml` and starts `mcp-edge serve` on it, its
 * data in `dir/name`; resolves once it listens on the mesh and serves HTTP.
 */
export async function startMeshServe(dir: string, name: string, config: Record<string, unknown>): Promise<MeshServe> {
  const configFile = join(dir, `${name}.toml`);
  writeFileSync(configFile, stringify(config));
  const child = spawnCli(['serve', '--config', configFile, '--bind', '127.0.0.1:0', '--data-dir', join(dir, name)]);
  const match = await waitForOutput(child.stderr, /mesh listening (\{.*\})\n[\s\S]*listening \{"url":"([^"]+)"/);
  const fields = JSON.parse(match[1]!) as { peer_id: string; addresses: string[] };
  return { child, url: match[2]!, peerId: fields.peer_id, addresses: fields.addresses };
}
