// A connected peer whose announcements stop reaching this node (they came
// through a relay that just died) is asked directly after two silent
// intervals. On a loaded node that answer took longer than one more interval,
// and the peer was forgotten meanwhile: its tools left every client's list for
// that moment (CI: test/mesh-nat.test.ts's call right after the relay was
// killed found "Tool whoami is not offered"). A peer being asked is kept for
// up to six silent intervals instead of three. Two real libp2p nodes in this
// process: A runs Discovery; B is a bare node, heard only through its answers
// to A's direct questions, each given late.
import { describe, expect, it } from 'vitest';
import type { Stream } from '@libp2p/interface';
import { sharedTool, TOOLS_PROTOCOL, TOOLS_TOPIC } from '../host/src/mesh/discovery.js';
import { eventually } from './helpers/gateway.js';
import { meshNodes } from './helpers/mesh-nodes.js';

const INTERVAL_MS = 1_000;
/**
 * Asked after two or three silent intervals, answered one and a half later:
 * past the three at which an unasked peer is forgotten, well before the six
 * for one asked (a full suite beside it delays the answer further).
 */
const ANSWER_DELAY_MS = 1.5 * INTERVAL_MS;

const mesh = meshNodes('mcp-edge-slow-answer-');

const announcement = new TextEncoder().encode(
  JSON.stringify({ v: 1, addrs: [], tools: [sharedTool({ name: 'b_tool', inputSchema: { type: 'object' } }, true)], resources: [], prompts: [] }),
);

describe('a connected peer heard only when asked', () => {
  it('stays in the directory while its late answer is on the way', { timeout: 60_000 }, async () => {
    const a = await mesh.node();
    const heardOnA = await mesh.discovery(a, INTERVAL_MS);
    const b = await mesh.node();
    let asked = 0;
    await b.handle(TOOLS_PROTOCOL, async (stream: Stream) => {
      asked += 1;
      await new Promise((r) => setTimeout(r, ANSWER_DELAY_MS));
      stream.send(announcement);
      await stream.close().catch((err: Error) => stream.abort(err));
    });
    b.services.pubsub.subscribe(TOOLS_TOPIC);
    await b.dial(a.getMultiaddrs()[0]!);
    const bId = b.peerId.toString();
    await eventually(() => heardOnA.entry(bId), 15_000, "A to hear B's announcement");
    // Each time B left A's directory: whether it was still connected (silence, not a closed connection).
    const forgotten: { connections: number }[] = [];
    heardOnA.onChange((peer) => {
      if (peer === bId && !heardOnA.entry(peer)) forgotten.push({ connections: a.getConnections(b.peerId).length });
    });
    const askedBefore = asked;

    // B publishes nothing more: for ten intervals A hears it only through its questions.
    await new Promise((r) => setTimeout(r, 10 * INTERVAL_MS));

    expect(asked - askedBefore).toBeGreaterThanOrEqual(2);
    expect(forgotten).toEqual([]);
    expect(heardOnA.announcedProviders('b_tool')).toEqual([bId]);
  });
});
