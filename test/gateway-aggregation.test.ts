// Aggregation of real npm upstreams (server-everything, server-filesystem,
// server-memory over stdio) with the built-ins: one deterministic view,
// namespacing modes, filters, routing of calls, the providers resource.
import { mkdtempSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, EVERYTHING, FILESYSTEM, MEMORY, NODE, startGateway, textOf } from './helpers/gateway.js';

const ordinalSorted = (names: string[]) => [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('gateway aggregation', () => {
  it('merges every provider into one sorted list and routes calls to the right one', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'mcp-edge-fs-')));
    writeFileSync(join(root, 'hello.txt'), 'hello from the edge');
    const gateway = await startGateway({
      upstreams: [
        { id: 'everything', transport: 'stdio', command: NODE, args: [EVERYTHING, 'stdio'] },
        { id: 'fs', transport: 'stdio', command: NODE, args: [FILESYSTEM, root] },
        { id: 'memory', transport: 'stdio', command: NODE, args: [MEMORY], env: { MEMORY_FILE_PATH: join(root, 'memory.jsonl') } },
      ],
    });
    const client = await connectClient(gateway);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(ordinalSorted(names));
    expect(names).toEqual(expect.arrayContaining(['edge_compress', 'echo', 'get-sum', 'read_text_file', 'create_entities', 'read_graph']));
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toContain('hi');
    expect(textOf(await client.callTool({ name: 'read_text_file', arguments: { path: join(root, 'hello.txt') } }))).toBe('hello from the edge');
    await client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'pi', entityType: 'device', observations: ['on the desk'] }] } });
    expect(textOf(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain('on the desk');

    const resources = (await client.listResources()).resources.map((r) => r.uri);
    expect(resources).toContain('mcp-edge://providers');
    expect(resources).toEqual(ordinalSorted(resources));
    const report = JSON.parse(textOf({ content: (await client.readResource({ uri: 'mcp-edge://providers' })).contents }));
    expect(report.providers.map((p: { id: string; state: string }) => `${p.id}:${p.state}`)).toEqual([
      'local:up',
      'everything:up',
      'fs:up',
      'memory:up',
    ]);
    expect(report.providers[1].routing.calls).toBe(1);

    const templates = (await client.listResourceTemplates()).resourceTemplates;
    expect(templates.length).toBeGreaterThan(0);
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toEqual(ordinalSorted(prompts));
    expect(prompts).toContain('simple-prompt');
    const prompt = await client.getPrompt({ name: 'simple-prompt' });
    expect(prompt.messages.length).toBeGreaterThan(0);
  });

  it('prefixes always, filters with include/exclude, and prefixes only colliding names on-collision', async () => {
    const always = await startGateway({
      aggregation: { prefix_mode: 'always', separator: '.' },
      upstreams: [{ id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING], include: ['echo', 'get-*'], exclude: ['get-env'] }],
    });
    const client = await connectClient(always);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('edge_compress');
    expect(names.filter((n) => n.startsWith('ev.'))).toEqual(
      ordinalSorted(names.filter((n) => n.startsWith('ev.'))),
    );
    expect(names).toContain('ev.echo');
    expect(names).toContain('ev.get-sum');
    expect(names).not.toContain('ev.get-env');
    expect(names).not.toContain('ev.trigger-long-running-operation');
    expect(textOf(await client.callTool({ name: 'ev.get-sum', arguments: { a: 2, b: 3 } }))).toContain('5');

    const colliding = await startGateway({
      upstreams: [
        { id: 'a', transport: 'stdio', command: NODE, args: [EVERYTHING], include: ['echo', 'get-sum'] },
        { id: 'b', transport: 'stdio', command: NODE, args: [EVERYTHING], include: ['echo'] },
      ],
    });
    const c2 = await connectClient(colliding);
    const local = new Set(colliding.plugins.catalog().tools.map((t) => t.name));
    const n2 = (await c2.listTools()).tools.map((t) => t.name).filter((n) => !local.has(n));
    expect(n2).toEqual(['a__echo', 'b__echo', 'get-sum']);
    expect(textOf(await c2.callTool({ name: 'b__echo', arguments: { message: 'via b' } }))).toContain('via b');
    await expect(c2.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(/not offered/);
  });
});
