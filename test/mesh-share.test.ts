// Resources and prompts over the mesh, with real gateways and libp2p nodes on
// 127.0.0.1 in one process: C shares one resource and one prompt of its
// upstream (the MCP "everything" server); A's client lists, reads and gets
// them through A; what C does not share stays on C, even for a peer that asks.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import type { MeshReport } from '../host/src/mesh/resources.js';
import { MCP_PROTOCOL, StreamTransport } from '../host/src/mesh/stream-transport.js';
import { docPage } from './helpers/docs.js';
import { connectClient, eventually, EVERYTHING, NODE, startGateway } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';

const dir = tempDir('mcp-edge-mesh-share-');
const key = join(dir, 'swarm.key');
writeNetworkKey(key);

const SHARED = 'demo://resource/static/document/architecture.md';
const UNSHARED = 'demo://resource/static/document/extension.md';

describe('resources and prompts over the mesh', () => {
  let a: Gateway;
  let c: Gateway;
  let client: Client;
  let onC: Client;
  beforeAll(async () => {
    const mesh = { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], network_key_file: key, announce_interval_ms: 1000 };
    c = await startGateway({
      upstreams: [{ id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING] }],
      mesh: { ...mesh, share: ['echo'], share_resources: [SHARED], share_prompts: ['simple-prompt'] },
    });
    a = await startGateway({ mesh: { ...mesh, bootstrap: c.mesh!.addresses() } });
    client = await connectClient(a);
    onC = await connectClient(c);
    await eventually(async () => ((await client.listPrompts()).prompts.some((p) => p.name === 'simple-prompt') ? true : undefined), 15_000, "C's prompt on A");
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes the docs/mesh.md example as written', () => {
    const config = parseConfig(docPage('docs/mesh.md').example('mesh-share', 'toml'), 'docs/mesh.md', {});
    expect(config.mesh.share_resources).toEqual(['file:///srv/shop/state.json']);
    expect(config.mesh.share_prompts).toEqual(['shift_report']);
  });

  it('lists and reads the resource C shares, as C itself serves it, and nothing else of C', async () => {
    const uris = (await client.listResources()).resources.map((r) => r.uri);
    expect(uris).toContain(SHARED);
    expect(uris).not.toContain(UNSHARED);
    const here = await client.readResource({ uri: SHARED });
    expect(here.contents).toEqual((await onC.readResource({ uri: SHARED })).contents);
    expect(here.contents[0]).toMatchObject({ uri: SHARED });
    await expect(client.readResource({ uri: UNSHARED })).rejects.toThrow(/no provider offers/);
  });

  it('lists and gets the prompt C shares, and only that one', async () => {
    const names = (await client.listPrompts()).prompts.map((p) => p.name);
    expect(names).toEqual(['simple-prompt']);
    const prompt = await client.getPrompt({ name: 'simple-prompt' });
    expect(prompt.messages).toEqual((await onC.getPrompt({ name: 'simple-prompt' })).messages);
    expect(prompt.messages.length).toBeGreaterThan(0);
  });

  it("names them in A's and C's mesh reports, with their digests", async () => {
    const report = async (on: Client) => JSON.parse(((await on.readResource({ uri: 'mcp-edge://mesh' })).contents[0] as { text: string }).text) as MeshReport;
    const ofC = await report(onC);
    expect(ofC.shares_resources.map((r) => r.name)).toEqual([SHARED]);
    expect(ofC.shares_prompts.map((p) => p.name)).toEqual(['simple-prompt']);
    const peerC = (await report(client)).peers.find((p) => p.peer_id === c.mesh!.peerId)!;
    expect(peerC.resources).toEqual(ofC.shares_resources);
    expect(peerC.prompts).toEqual(ofC.shares_prompts);
    expect(peerC.prompts[0]!.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses what C does not share, even to a peer that asks for it by name', async () => {
    const stream = await a.mesh!.node.dialProtocol(peerIdFromString(c.mesh!.peerId), MCP_PROTOCOL);
    const raw = new Client({ name: 'raw-peer', version: '1.0.0' });
    await raw.connect(new StreamTransport(stream));
    expect((await raw.listResources()).resources.map((r) => r.uri)).toEqual([SHARED]);
    await expect(raw.readResource({ uri: UNSHARED })).rejects.toThrow(/Resource "demo:\/\/resource\/static\/document\/extension\.md" is not shared with the mesh by this node/);
    await expect(raw.getPrompt({ name: 'args-prompt', arguments: { city: 'x' } })).rejects.toThrow(/Prompt "args-prompt" is not shared with the mesh by this node/);
    await raw.close();
  });

  it('lists them no more once C goes', async () => {
    await c.close();
    await eventually(async () => ((await client.listPrompts()).prompts.length === 0 ? true : undefined), 15_000, "C's prompt gone from A");
    expect((await client.listResources()).resources.map((r) => r.uri)).not.toContain(SHARED);
  });
});
