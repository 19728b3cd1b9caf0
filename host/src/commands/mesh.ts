// mcp-edge mesh: what a node needs before it joins a mesh, and what a running
// one sees. `keygen` writes the swarm key every node of a private mesh shares;
// `id` prints this node's peer id (creating its identity in the data dir, or in
// the TPM with mesh.identity = "tpm"), which allowlists and bootstrap addresses
// name. `peers`, `tools` and `ping` ask the running gateway (GET /v1/mesh,
// POST /v1/mesh/ping) at the configured listener, or --url, with --token (or
// MCP_EDGE_TOKEN) when it asks for credentials.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { resolveSettings } from '../config/resolve.js';
import { meshIdentityFile } from '../config/mesh-settings.js';
import { DEFAULT_TPM_DEVICE } from '../security/tpm/tcti.js';
import { commandTimeoutOf } from '../security/tpm/settings.js';
import { CONFIG_OPTIONS, gatewayMcpUrl, loadCliConfig, UsageError, type ConfigOptions } from './common.js';
import type { MeshReport } from '../mesh/resources.js';
import { MeshError } from '../mesh/errors.js';
import type { Output } from './keys.js';

export const MESH_HELP = `  mcp-edge mesh keygen <file>
                             write a new network key (mesh.network_key_file);
                             copy it to every node of the mesh
  mcp-edge mesh id           print this node's peer id (mesh.allowed_peers)
  mcp-edge mesh peers|tools [--url <url>] [--token <key>]
                             the running gateway's mesh peers (state, tools,
                             last heard), or the tools they share
  mcp-edge mesh ping <peer id> [--url <url>] [--token <key>]
                             the round trip to a peer, in ms`;

const stdio: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Runs `mcp-edge mesh <action> ...`. */
export async function meshCommand(argv: string[], io: Output = stdio): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { ...CONFIG_OPTIONS, url: { type: 'string' }, token: { type: 'string' } } });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [action, arg, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  switch (action) {
    case 'keygen': {
      if (!arg) throw new UsageError('say where to write the key: mcp-edge mesh keygen <file>');
      const { writeNetworkKey } = await import('../mesh/identity.js');
      writeNetworkKey(resolve(arg));
      io.err(`Wrote a new network key to ${resolve(arg)}. Copy it to every node of the mesh and set mesh.network_key_file to it; keep it secret (whoever has it may join).\n`);
      return;
    }
    case 'id': {
      if (arg) throw new UsageError(`unexpected argument "${arg}"`);
      const config = await loadCliConfig(parsed.values as ConfigOptions);
      // libp2p's modules load only for the mesh commands (they would slow every other command's start).
      const { peerIdFromPublicKey } = await import('@libp2p/peer-id');
      if (config.mesh.identity === 'tpm') {
        // The TPM bindings load libtss2 through koffi: only for a TPM identity.
        const [{ meshPublicKeyOf }, { publicKeyFromRaw }] = await Promise.all([import('../security/tpm/mesh-key.js'), import('@libp2p/crypto/keys')]);
        const der = await meshPublicKeyOf(config.security.tpm_device ?? DEFAULT_TPM_DEVICE, commandTimeoutOf(config.security));
        io.out(`${peerIdFromPublicKey(publicKeyFromRaw(der)).toString()}\n`);
        return;
      }
      const { loadIdentity } = await import('../mesh/identity.js');
      const identity = await loadIdentity(meshIdentityFile(resolveSettings(config).dataDir));
      io.out(`${peerIdFromPublicKey(identity.publicKey).toString()}\n`);
      return;
    }
    case 'peers':
    case 'tools': {
      if (arg) throw new UsageError(`unexpected argument "${arg}"`);
      const report = (await askGateway(parsed.values, 'GET', '/v1/mesh')) as ({ enabled: false } | ({ enabled: true } & MeshReport));
      if (!report.enabled) throw new MeshError('the gateway runs without the mesh ([mesh] enabled = false)');
      io.out(action === 'peers' ? peerLines(report) : toolLines(report));
      return;
    }
    case 'ping': {
      if (!arg) throw new UsageError('say which peer: mcp-edge mesh ping <peer id> (mcp-edge mesh peers lists them)');
      const answer = (await askGateway(parsed.values, 'POST', '/v1/mesh/ping', { peer: arg })) as { rtt_ms: number };
      io.out(`${arg}: ${answer.rtt_ms.toFixed(1)} ms\n`);
      return;
    }
    case undefined:
      throw new UsageError(`say what to do:\n${MESH_HELP}`);
    default:
      throw new UsageError(`unknown mesh action "${action}"; use keygen, id, peers, tools or ping`);
  }
}

/** One JSON request to the running gateway's REST API. */
async function askGateway(options: ConfigOptions & { url?: string; token?: string }, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const base = options.url ?? gatewayMcpUrl(resolveSettings(await loadCliConfig(options)));
  const url = new URL(path, base);
  const token = options.token ?? process.env.MCP_EDGE_TOKEN;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new MeshError(`no gateway answers at ${url.origin} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); start it with "mcp-edge serve", or pass --url`);
  }
  const answer = (await res.json().catch(() => ({}))) as { error?: { message?: string } | string };
  if (res.status === 401 || res.status === 403) throw new MeshError(`the gateway refused the request (${res.status}): pass --token <key> or set MCP_EDGE_TOKEN`);
  if (!res.ok) throw new MeshError(typeof answer.error === 'string' ? answer.error : (answer.error?.message ?? `${method} ${path} answered ${res.status}`));
  return answer;
}

function peerLines(report: MeshReport): string {
  const header = `this node ${report.peer_id}, ${report.connections} connections, ${report.peers.length} peers\n`;
  return header + report.peers.map((p) => `${p.peer_id}  ${p.state}  ${p.tools.length} tools  heard ${p.heard ?? 'never'}  ${linkWord(p.links)}\n`).join('');
}

/** How this node reaches a peer now: directly, only through a relay, or not at all. */
function linkWord(links: readonly string[]): string {
  if (links.length === 0) return 'not connected';
  return links.some((addr) => !addr.includes('/p2p-circuit')) ? 'direct' : 'relayed';
}

function toolLines(report: MeshReport): string {
  return report.peers.flatMap((p) => p.tools.map((t) => `${t.name}  ${p.peer_id}  ${t.digest.slice(0, 12)}${t.idempotent ? '  idempotent' : ''}\n`)).join('');
}
