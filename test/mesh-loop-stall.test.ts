// A mesh node whose event loop stalls for several announce intervals (50
// gateways in one process: turns of 3-10 s). The interval's timer runs before
// the loop reads what the peers sent meanwhile, and by the clock alone every
// peer looked silent at once: each node forgot all its peers and asked them
// all again, which made the next stall longer (bench/mesh at 50 nodes:
// "Tool ping_tool is not offered by this gateway"). Silence is now counted in
// the node's own intervals too. Two real libp2p nodes in this process; the
// stall is Atomics.wait on its event loop.
import { rmSync } from 'node:fs';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { afterAll, describe, expect, it } from 'vitest';
import { meshSchema } from '../host/src/config/mesh-schema.js';
import { resolveMesh } from '../host/src/config/mesh-settings.js';
import { Discovery, sharedTool, TOOLS_PROTOCOL } from '../host/src/mesh/discovery.js';
import { createMeshNode, type MeshNode } from '../host/src/mesh/node.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { eventually } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';

const INTERVAL_MS = 500;

const dir = tempDir('mcp-edge-loop-stall-');
const nodes: MeshNode[] = [];
const discoveries: Discovery[] = [];
afterAll(async () => {
  for (const d of discoveries) d.stop();
  await Promise.allSettled(nodes.map((n) => n.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function startNode(): Promise<{ node: MeshNode; discovery: Discovery }> {
  const settings = resolveMesh(meshSchema.parse({ enabled: true, open: true, listen: ['/ip4/127.0.0.1/tcp/0'] }), dir)!;
  const node = await createMeshNode(settings, await generateKeyPair('Ed25519'), undefined);
  nodes.push(node);
  await node.start();
  const discovery = new Discovery(node, INTERVAL_MS, createLogger('silent'));
  discoveries.push(discovery);
  await discovery.start();
  return { node, discovery };
}

/** Runs `stall` ms of blocked event loop from a callback after the timers (as most work runs), so timers come next. */
function stallEventLoop(ms: number): Promise<void> {
  return new Promise((resolve) =>
    setImmediate(() => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      resolve();
    }),
  );
}

describe('a mesh node across a stalled event loop', () => {
  it('keeps the peers it heard before a stall of five announce intervals', { timeout: 30_000 }, async () => {
    const [a, b] = [await startNode(), await startNode()];
    b.discovery.share({ tools: [sharedTool({ name: 'b_tool', inputSchema: { type: 'object' } }, false)], resources: [], prompts: [] });
    await a.node.dial(b.node.getMultiaddrs()[0]!);
    const bId = b.node.peerId.toString();
    await eventually(() => a.discovery.entry(bId)?.tools.length === 1 || undefined, 15_000, "A to hear B's tool");
    const forgotten: string[] = [];
    a.discovery.onChange((peer) => {
      if (!a.discovery.entry(peer)) forgotten.push(peer);
    });

    await stallEventLoop(5 * INTERVAL_MS);
    // Four intervals of a running loop after it: B's announcements keep coming, and A reads them.
    await new Promise((r) => setTimeout(r, 4 * INTERVAL_MS));

    expect(forgotten).toEqual([]);
    expect(a.discovery.entry(bId)?.tools.map((t) => t.definition.name)).toEqual(['b_tool']);
    expect(Date.now() - a.discovery.entry(bId)!.heardAt).toBeLessThan(3 * INTERVAL_MS);
  });

  it('still drops a connected peer that went silent, after three intervals of a running loop', { timeout: 30_000 }, async () => {
    const [a, b] = [await startNode(), await startNode()];
    await a.node.dial(b.node.getMultiaddrs()[0]!);
    const bId = b.node.peerId.toString();
    await eventually(() => a.discovery.entry(bId) ?? undefined, 15_000, 'A to hear B');
    // B stops announcing and answering direct asks, and stays connected.
    b.discovery.stop();
    await b.node.unhandle(TOOLS_PROTOCOL);
    const silentSince = Date.now();
    await eventually(() => (a.discovery.entry(bId) ? undefined : true), 10 * INTERVAL_MS, 'A to drop B');
    expect(Date.now() - silentSince).toBeGreaterThanOrEqual(2 * INTERVAL_MS);
    expect(a.node.getConnections(b.node.peerId).length).toBeGreaterThan(0);
  });
});
