// [mesh]: gateways that find each other's tools and call them over libp2p
// (host/src/mesh/). Off by default; when on, the mesh is private unless the
// config says otherwise: a pre-shared network key, or `open = true` explicitly.
import { z } from 'zod';
import { globProblem } from '../security/glob.js';

/** A libp2p multiaddr as text; parsed and checked when the mesh starts. */
const multiaddrText = z.string().regex(/^\/[A-Za-z0-9]/, 'a multiaddr starts with "/", e.g. "/ip4/0.0.0.0/tcp/4001"');

/** A context space's name: it appears in MCP resource URIs and gossip topics, so plain characters only. */
export const CONTEXT_SPACE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const peerIdText = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{40,64}$/, 'a peer id is the base58 text `mcp-edge` logs as mesh peer_id, e.g. "12D3KooW..."');

const toolName = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'a tool name is 1-128 of [A-Za-z0-9_.-]');

/** A tool name pattern: `*` any run of characters, `?` one, `\` makes the next one literal (as in the policy rules). */
const toolPattern = z.string().superRefine((p, ctx) => {
  const problem = globProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** One fan-out tool: a tool of its own that runs another on every provider and merges the answers. */
const fanOutSchema = z
  .object({
    /** The name this gateway lists it under (what clients call). */
    name: toolName,
    /** The tool it runs, by its public name, on every provider that serves it: this gateway itself and every peer that shares it. */
    tool: toolName,
    /**
     * How the answers merge: "all" (every provider's answer, once all are in),
     * "first" (the first answer that is not an error; the other calls are
     * cancelled), "quorum" (the first answer that `quorum` providers gave alike).
     */
    mode: z.enum(['all', 'first', 'quorum']).default('all'),
    /** mode = "quorum": how many equal answers decide; default: more than half of the providers called. */
    quorum: z.number().int().min(1).max(1000).optional(),
  })
  .strict()
  .refine((f) => f.quorum === undefined || f.mode === 'quorum', { message: 'quorum applies only to mode = "quorum"', path: ['quorum'] })
  .refine((f) => f.name !== f.tool, { message: 'a fan-out tool cannot run itself: name and tool differ', path: ['tool'] });

export const meshSchema = z
  .object({
    enabled: z.boolean().default(false),
    /**
     * Where this node's peer identity key lives: "file" (an Ed25519 key in
     * <data_dir>/mesh/identity.key) or "tpm" (an RSA key created and kept in the
     * TPM of security.tpm_device, which needs security.use_tpm = true). See docs/tpm.md.
     */
    identity: z.enum(['file', 'tpm'], { error: 'mesh.identity is "file" (a key file in the data dir) or "tpm" (a key kept in the TPM, with security.use_tpm = true)' }).default('file'),
    /**
     * Where this node listens for peers: TCP ("/ip4/0.0.0.0/tcp/4001"), WebSockets
     * (".../tcp/8081/ws"), or, for a node that cannot be dialled (behind NAT),
     * through a relay: "<the relay's multiaddr>/p2p-circuit".
     */
    listen: z.array(multiaddrText).default(['/ip4/0.0.0.0/tcp/4001']),
    /**
     * The addresses peers are told to dial, in place of the listen addresses:
     * a port forward, a proxy or a NAT in front of this node. Empty: the listen addresses.
     */
    announce: z.array(multiaddrText).default([]),
    /** Relay connections (circuit relay v2) for nodes that listen through this one; off by default. */
    relay_service: z.boolean().default(false),
    /**
     * Upgrade a relayed connection to a direct one where one side can be dialled
     * (DCUtR, libp2p's hole punching): on by default, it costs nothing on direct links.
     */
    hole_punching: z.boolean().default(true),
    /** Peers to dial at start (multiaddrs ending in /p2p/<peer id>). */
    bootstrap: z.array(multiaddrText).default([]),
    /** Find peers on the LAN by multicast DNS. */
    mdns: z.boolean().default(false),
    /** Path of the swarm key shared by every node of the mesh (libp2p pnet format); a node without it cannot connect. */
    network_key_file: z.string().min(1).optional(),
    /** Accept any node: an open mesh must be chosen explicitly. */
    open: z.boolean().default(false),
    /** When set, only these peers may connect (in addition to the network key). */
    allowed_peers: z.array(peerIdText).optional(),
    /** Public names of this gateway's tools that other nodes may call; none by default. */
    share: z.array(z.string().min(1)).default([]),
    /** URIs of this gateway's resources (as resources/list lists them) that other nodes may read; none by default. */
    share_resources: z.array(z.string().min(1).max(2048)).default([]),
    /** Names of this gateway's prompts (as prompts/list lists them) that other nodes may get; none by default. */
    share_prompts: z.array(z.string().min(1).max(256)).default([]),
    /** How often this node announces what it shares, in ms; a peer not heard for three intervals is dropped. */
    announce_interval_ms: z.number().int().min(100).max(3_600_000).default(10_000),
    /** A call to a peer that has not answered after this long fails with a timeout, in ms. */
    call_timeout_ms: z.number().int().min(1).max(3_600_000).default(60_000),
    /** Added to a peer's latency when the router ranks replicas (locality), in ms. */
    locality_ms: z.number().min(0).max(1e6).default(5),
    /**
     * Names of the shared context spaces this node replicates with its peers
     * (key/values and text documents, a CRDT; host/src/mesh/context/); none by default.
     */
    context: z
      .array(z.string().regex(CONTEXT_SPACE, 'a context space name is 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit, e.g. "shop-floor"'))
      .default([])
      .refine((spaces) => new Set(spaces).size === spaces.length, 'mesh.context names a space twice'),
    /** The largest context update this node takes from a peer or a tool, in bytes. */
    context_max_update_bytes: z.number().int().min(1024).max(1024 * 1024).default(256 * 1024),
    /** The largest a context space may grow (its stored updates), in bytes; writes past it are refused. */
    context_max_doc_bytes: z.number().int().min(4096).max(256 * 1024 * 1024).default(16 * 1024 * 1024),
    /** How often each space is compared with each peer's (anti-entropy), in ms; a new connection is compared at once. */
    context_sync_interval_ms: z.number().int().min(100).max(3_600_000).default(5_000),
    /**
     * Offload: tools of this gateway (public names; `*` and `?` wildcards)
     * whose calls go to a peer that shares a tool of the same name whenever
     * one can serve, this gateway's own as the fallback.
     */
    prefer_remote: z.array(toolPattern).default([]),
    /** Fan-out tools: each runs one tool on every provider at once and merges the answers. */
    fan_out: z.array(fanOutSchema).default([]),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.enabled && m.network_key_file === undefined && !m.open) {
      ctx.addIssue({
        code: 'custom',
        path: ['network_key_file'],
        message: 'a mesh is private by default: set mesh.network_key_file to the swarm key every node shares (`mcp-edge mesh keygen` writes one), or set mesh.open = true to accept any node',
      });
    }
    const names = m.fan_out.map((f) => f.name);
    m.fan_out.forEach((f, i) => {
      if (names.indexOf(f.name) !== i) ctx.addIssue({ code: 'custom', path: ['fan_out', i, 'name'], message: `fan-out tool "${f.name}" is defined twice` });
      if (names.includes(f.tool)) ctx.addIssue({ code: 'custom', path: ['fan_out', i, 'tool'], message: `"${f.tool}" is a fan-out tool itself; a fan-out tool runs a plain tool` });
    });
    if (m.network_key_file !== undefined && m.open) {
      ctx.addIssue({ code: 'custom', path: ['open'], message: 'mesh.open = true and mesh.network_key_file contradict each other: keep one' });
    }
  });

export type MeshConfig = z.infer<typeof meshSchema>;
