// A mesh node whose event loop stalls for several announce intervals (50
// gateways in one process: turns of 3-10 s). The interval's timer runs before
// the loop reads what the peers sent meanwhile, and by the clock alone every
// peer looked silent at once: each node forgot all its peers and asked them
// all again, which made the next stall longer (bench/mesh at 50 nodes:
// "Tool ping_tool is not offered by this gateway"). Silence is now counted in
// the node's own intervals too. Two real libp2p nodes in this process; the
// stall is Atomics.wait on its event loop.
import { describe, expect, it } from 'vitest';
import { sharedTool, TOOLS_PROTOCOL, type Discovery } from '../host/src/mesh/discovery.js';
import type { MeshNode } from '../host/src/mesh/node.js';
import { eventually } from './helpers/gateway.js';
import { meshNodes } from './helpers/mesh-nodes.js';

const INTERVAL_MS = 500;

const mesh = meshNodes('mcp-edge-loop-stall-');

async function startNode(): Promise<{ node: MeshNode; discovery: Discovery }> {
  const node = await mesh.node();
  return { node, discovery: await mesh.discovery(node, INTERVAL_MS) };
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
