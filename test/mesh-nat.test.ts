// NAT, for real: network namespaces (test/helpers/netns.ts) make a public
// network with a relay R and a public node P on it, and a node A behind a
// router that masquerades (a home router's NAT). Every gateway is a real
// `mcp-edge serve` process in its namespace. A cannot be dialled: it listens
// only through R (circuit relay v2). P's client calls A's tool: P reaches A
// through R, and DCUtR (mesh.hole_punching) has A dial P back directly, so the
// link becomes direct, seen from P as coming from A's router; the call still
// works with R gone. There is no "stays relayed with hole_punching = false"
// here: A can reach P directly on its own whenever it needs a new connection
// (P is public, A knows P's address from identify and P's announcements), so
// a test that counted on the link staying relayed failed once in eight runs.
// What the switch controls, DCUtR spoken or not, test/mesh-transports.test.ts
// checks as each node sees the other.
// Two nodes that are both behind NAT cannot be punched through by js-libp2p
// over TCP (it learns no public TCP address of a NATed node,
// libp2p/js-libp2p#2620): they stay relayed (docs/mesh.md), and are not tested here.
// Needs root (network namespaces); skipped, saying so, where they cannot be made.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import type { MeshReport } from '../host/src/mesh/resources.js';
import { eventually, NODE, REPLICA, textOf } from './helpers/gateway.js';
import { buildInternet, namespacesUnavailable, type Host, type Internet } from './helpers/netns.js';
import { CLI, collect, tempDir, waitForOutput } from './helpers/processes.js';

const unavailable = namespacesUnavailable();
const HTTP_PORT = 8080;
const MESH_PORT = 4001;

type Section = Record<string, string | number | boolean | string[]>;

/** The gateways' data dirs and keys, removed after the file. */
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** TOML tables of plain values (JSON's strings, numbers, booleans and string arrays are TOML's too). */
function toml(sections: Record<string, Section>): string {
  return Object.entries(sections)
    .map(([name, values]) => `[${name}]\n${Object.entries(values).map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`).join('')}`)
    .join('\n');
}

/** The replica fixture as an upstream, answering whoami with `name`. */
const replicaUpstream = (name: string): string =>
  `\n[[upstreams]]\nid = "up"\ntransport = "stdio"\ncommand = ${JSON.stringify(NODE)}\nargs = [${JSON.stringify(REPLICA)}]\nenv = { REPLICA_NAME = ${JSON.stringify(name)} }\n`;

/** Starts `mcp-edge serve` on `host` with `sections` (plus its gateway and auth, and `extra` TOML); resolves with the child once it listens. */
async function serve(net: Internet, host: Host, sections: Record<string, Section>, extra = ''): Promise<{ child: ChildProcess; peerId: string }> {
  const dir = tempDir('mcp-edge-nat-');
  dirs.push(dir);
  const file = join(dir, 'mcp-edge.toml');
  // No credentials on this closed test network: the test process is the only client.
  const gateway = { bind_address: `${host.ip}:${HTTP_PORT}`, data_dir: dir };
  writeFileSync(file, toml({ gateway, auth: { allow_unauthenticated: true }, ...sections }) + extra);
  const child = net.spawn(host, NODE, [CLI, 'serve', '--config', file]);
  const meshUp = waitForOutput(child.stderr, /mesh listening \{"peer_id":"([^"]+)"/, 30_000);
  await waitForOutput(child.stderr, /listening \{"url":/, 30_000);
  return { child, peerId: (await meshUp)[1]! };
}

/** GET /v1/mesh of a public node. */
async function meshOf(host: Host): Promise<MeshReport> {
  const res = await fetch(`http://${host.ip}:${HTTP_PORT}/v1/mesh`);
  return (await res.json()) as MeshReport;
}

/** R (relay), P (public) and A (behind NAT, sharing whoami); P's client, and A's peer id. */
async function meshAcrossNat(net: Internet): Promise<{ client: Client; p: Host; r: ChildProcess; peerA: string; pLog: () => string }> {
  const keyDir = tempDir('mcp-edge-nat-key-');
  dirs.push(keyDir);
  const key = join(keyDir, 'mesh.key');
  writeNetworkKey(key);
  const mesh = { enabled: true, network_key_file: key, announce_interval_ms: 300 };
  const rHost = net.publicHost('r', 1);
  const p = net.publicHost('p', 30);
  const aHost = net.privateHost('a', 10);
  const at = (h: Host): string => `/ip4/${h.ip}/tcp/${MESH_PORT}`;
  // Public nodes announce their address: libp2p only tells peers of a public address it was told is right.
  const r = await serve(net, rHost, { mesh: { ...mesh, listen: [at(rHost)], announce: [at(rHost)], relay_service: true } });
  const relay = `${at(rHost)}/p2p/${r.peerId}`;
  const a = await serve(net, aHost, { mesh: { ...mesh, listen: [`${relay}/p2p-circuit`], bootstrap: [relay], share: ['whoami'] } }, replicaUpstream('A'));
  // P meets A through R: A's only address is its circuit through R, and P is given it (finding
  // it by a DHT lookup instead is what test/mesh-transports.test.ts covers, on loopback).
  const viaRelay = `${relay}/p2p-circuit/p2p/${a.peerId}`;
  const pNode = await serve(net, p, { mesh: { ...mesh, listen: [at(p)], announce: [at(p)], bootstrap: [relay, viaRelay] } });
  const pLog = collect(pNode.child.stderr);
  const client = new Client({ name: 'nat-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://${p.ip}:${HTTP_PORT}/mcp`)));
  await eventually(async () => ((await client.listTools()).tools.some((t) => t.name === 'whoami') ? true : undefined), 30_000, "A's whoami listed on P");
  // A's tools reach P by gossip through R before P's bootstrap dial to A (a second after its start) has
  // put A's address in P's peer store; a call before that looks A up in the DHT instead. Wait for the meeting.
  await eventually(async () => ((await meshOf(p)).peers.find((peer) => peer.peer_id === a.peerId)?.links.length ? true : undefined), 30_000, 'P connected to A');
  return { client, p, r: r.child, peerA: a.peerId, pLog: pLog.text };
}

describe.skipIf(unavailable !== undefined)(unavailable ? `NAT tests skipped: ${unavailable}` : 'a node behind NAT', () => {
  const nets: Internet[] = [];
  afterAll(async () => {
    await Promise.allSettled(nets.map((n) => n.close()));
  });
  /** One internet per test, gone when it ends: two at once would both put 11.0.0.254 on this host. */
  async function withInternet(name: string, run: (net: Internet) => Promise<void>): Promise<void> {
    const net = buildInternet(`hp${process.pid % 10_000}${name}`);
    nets.push(net);
    try {
      await run(net);
    } finally {
      await net.close();
    }
  }

  it('is called through the relay, and the link becomes direct (DCUtR): it survives the relay', () =>
    withInternet('a', async (net) => {
      const { client, p, r, peerA, pLog } = await meshAcrossNat(net);
      // What P's directory did (peers heard, left and why) when the test fails.
      onTestFailed(() => console.log(pLog().split('\n').filter((line) => line.includes('mesh')).slice(-40).join('\n')));
      const links = await eventually(
        async () => {
          const now = (await meshOf(p)).peers.find((peer) => peer.peer_id === peerA)?.links ?? [];
          return now.length > 0 && now.every((addr) => !addr.includes('/p2p-circuit')) ? now : undefined;
        },
        20_000,
        'a direct link from P to A',
      );
      // Seen from P, A is its router's address: the NAT is real.
      expect(links.every((addr) => addr.startsWith('/ip4/11.0.0.10/tcp/'))).toBe(true);
      expect(textOf(await client.callTool({ name: 'whoami' }))).toBe('A');
      r.kill('SIGKILL');
      expect(textOf(await client.callTool({ name: 'whoami' }))).toBe('A');
      await client.close();
    }),
    60_000,
  );
});
