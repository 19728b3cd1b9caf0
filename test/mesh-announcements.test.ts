// What a node takes from a peer's announcement on the tools topic. A peer in
// an open mesh announced a tool whose input schema nested 100,000 levels
// deep: the node kept it, and its definition reached every client's
// tools/list, whose answer could then not be written. Announcements nested
// past protocol/json-depth.ts's limit are ignored now.
import { describe, expect, it } from 'vitest';
import { sharedTool, TOOLS_TOPIC } from '../host/src/mesh/discovery.js';
import { eventually } from './helpers/gateway.js';
import { meshNodes } from './helpers/mesh-nodes.js';

const mesh = meshNodes('mcp-edge-announcements-');

const announcement = (name: string, inputSchema: Record<string, unknown>) =>
  JSON.stringify({ v: 1, addrs: [], tools: [sharedTool({ name, inputSchema: { type: 'object', ...inputSchema } }, true)], resources: [], prompts: [] });

/** An input schema whose one property nests `depth` levels of objects. */
function deepSchema(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { inner: schema } };
  return { properties: { outer: schema } };
}

describe('announcements on the tools topic', () => {
  it('ignores one nested more than 128 levels deep, and takes one within the limit from the next peer', { timeout: 40_000 }, async () => {
    const a = await mesh.node();
    const heardOnA = await mesh.discovery(a, 500);
    const [deep, fine] = [await mesh.node(), await mesh.node()];
    // Bare nodes on the topic (no Discovery of their own): each publishes what the test gives it.
    for (const peer of [deep, fine]) {
      peer.services.pubsub.subscribe(TOOLS_TOPIC);
      await peer.dial(a.getMultiaddrs()[0]!);
    }
    // Written as text: the test's own JSON.stringify would overflow on it, as the node's tools/list did.
    const nested = `${'{"type":"object","properties":{"inner":'.repeat(10_000)}{"type":"string"}${'}}'.repeat(10_000)}`;
    const deepTool = `{"definition":{"name":"deep_tool","inputSchema":{"type":"object","properties":{"outer":${nested}}}},"digest":"${'a'.repeat(64)}","idempotent":true}`;
    const tooDeep = new TextEncoder().encode(`{"v":1,"addrs":[],"tools":[${deepTool}],"resources":[],"prompts":[]}`);
    // 1 + tools, a tool, its definition, inputSchema, properties, outer (6) + 2 per level: 60 levels are 126 deep.
    const withinLimit = new TextEncoder().encode(announcement('fine_tool', deepSchema(60)));
    await eventually(
      async () => {
        await deep.services.pubsub.publish(TOOLS_TOPIC, tooDeep).catch(() => undefined);
        await fine.services.pubsub.publish(TOOLS_TOPIC, withinLimit).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 250));
        return heardOnA.entry(fine.peerId.toString());
      },
      20_000,
      "the fine peer's announcement on A",
    );
    expect(heardOnA.announcedProviders('fine_tool')).toEqual([fine.peerId.toString()]);
    // Booleans: a failure must not have vitest print the deep definition.
    expect(heardOnA.entry(deep.peerId.toString()) === undefined).toBe(true);
    expect(heardOnA.announcedProviders('deep_tool').length).toBe(0);
  });
});
