// The npm plugin API end to end: tools, resources and prompts registered in
// process on a real gateway, seen and used by the SDK client over Streamable
// HTTP, and switched off and on at run time with list_changed notifications.
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  ErrorCode,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { defineTool, definePlugin, LocalProvider, UnknownCapabilityError } from '../host/src/index.js';
import { isMcpError } from '../host/src/protocol/mcp-error.js';
import { call, connectClient, notificationsFlowing, startGateway, textOf, withAlwaysOn } from './helpers/plugin-gateway.js';

type Schema = typeof ToolListChangedNotificationSchema | typeof PromptListChangedNotificationSchema | typeof ResourceListChangedNotificationSchema;

/** Counts notifications of one kind and lets a test wait for the next. */
function watch(client: Client, schema: Schema) {
  let count = 0;
  let waiters: (() => void)[] = [];
  client.setNotificationHandler(schema, () => {
    count++;
    for (const w of waiters) w();
    waiters = [];
  });
  return {
    count: () => count,
    next: (ms = 5000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${schema.shape.method.value} within ${ms} ms`)), ms);
        waiters.push(() => (clearTimeout(timer), resolve()));
      }),
  };
}

const add = defineTool({
  name: 'add',
  description: 'Adds two integers.',
  input: z.object({ a: z.number().int(), b: z.number().int() }),
  output: z.object({ sum: z.number() }),
  handler: ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }),
});

describe('local plugins through the npm API', () => {
  it('serves a registered zod tool, with its JSON Schemas, validation and output check', async () => {
    const gateway = await startGateway();
    gateway.plugins.registerTool(add);
    gateway.plugins.registerTool({
      name: 'liar',
      description: 'Declares a number but returns a string.',
      input: z.object({}),
      output: z.object({ n: z.number() }),
      handler: () => ({ content: [], structuredContent: { n: 'seven' } }),
    });
    const client = await connectClient(gateway);
    const { tools } = await client.listTools();
    const listed = tools.find((t) => t.name === 'add')!;
    expect(listed.inputSchema).toMatchObject({ type: 'object', required: ['a', 'b'], properties: { a: { type: 'integer' } } });
    expect(listed.outputSchema).toMatchObject({ type: 'object', properties: { sum: { type: 'number' } } });
    expect((await call(client, 'add', { a: 2, b: 40 })).structuredContent).toEqual({ sum: 42 });
    const bad = await call(client, 'add', { a: 2, b: 'x' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/Invalid arguments for add: b:/);
    // The SDK client would refuse a result that breaks the schema; the gateway catches it first.
    const liar = await call(client, 'liar', {});
    expect(liar.isError).toBe(true);
    expect(textOf(liar)).toMatch(/do not match its output schema \(n: /);
  });

  it('lets a handler report progress to a client that asked for it', async () => {
    const gateway = await startGateway();
    gateway.plugins.registerTool({
      name: 'steps',
      description: 'Works in three steps.',
      input: z.object({}),
      handler: async (_args, { progress }) => {
        for (let step = 1; step <= 3; step++) await progress?.(step, 3, `step ${step}`);
        return { content: [{ type: 'text', text: 'done' }] };
      },
    });
    const client = await connectClient(gateway);
    const seen: string[] = [];
    const result = await client.callTool({ name: 'steps', arguments: {} }, undefined, {
      onprogress: (p) => void seen.push(`${p.progress}/${p.total} ${p.message}`),
    });
    expect(textOf(result)).toBe('done');
    expect(seen).toEqual(['1/3 step 1', '2/3 step 2', '3/3 step 3']);
    expect(textOf(await client.callTool({ name: 'steps', arguments: {} }))).toBe('done'); // no token: progress is a no-op
  });

  it('serves a tool declared with plain JSON Schema, validated by ajv', async () => {
    const gateway = await startGateway();
    gateway.plugins.registerTool({
      name: 'greet',
      description: 'Greets someone.',
      input: { type: 'object', properties: { who: { type: 'string', minLength: 1 }, times: { type: 'integer', default: 1 } }, required: ['who'], additionalProperties: false },
      output: { type: 'object', properties: { line: { type: 'string' } }, required: ['line'] },
      handler: (args) => {
        const line = `hello ${String(args.who)} x${String(args.times)}`;
        return { content: [{ type: 'text', text: line }], structuredContent: { line } };
      },
    });
    const client = await connectClient(gateway);
    expect((await client.listTools()).tools.find((t) => t.name === 'greet')?.inputSchema.required).toEqual(['who']);
    expect((await call(client, 'greet', { who: 'pi' })).structuredContent).toEqual({ line: 'hello pi x1' });
    const missing = await call(client, 'greet', { times: 2 });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/Invalid arguments for greet: .*must have required property 'who'/);
    expect(textOf(await call(client, 'greet', { who: 'pi', extra: 1 }))).toMatch(/must NOT have additional properties/);
    expect(() => gateway.plugins.registerTool({ name: 'broken', description: '', input: { type: 'string' } as never, handler: () => ({ content: [] }) })).toThrow(
      /must have "type": "object"/,
    );
  });

  it('serves resources, resource templates and prompts', async () => {
    const gateway = await startGateway();
    gateway.plugins.registerResource({
      uri: 'memo://today',
      name: 'today',
      mimeType: 'text/plain',
      read: (uri) => ({ contents: [{ uri: uri.href, text: 'water the plants' }] }),
    });
    gateway.plugins.registerResourceTemplate({
      uriTemplate: 'memo://day/{n}',
      name: 'day',
      read: (uri, vars) => ({ contents: [{ uri: uri.href, text: `memo for day ${String(vars.n)}` }] }),
    });
    gateway.plugins.registerPrompt({
      name: 'summarize',
      arguments: [{ name: 'topic', required: true }],
      get: ({ topic }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Summarize ${topic}.` } }] }),
    });
    const client = await connectClient(gateway);
    // Other providers may add their own (the gateway's status resources); these are ours.
    const mine = (uri: string) => uri.startsWith('memo://');
    expect((await client.listResources()).resources.filter((r) => mine(r.uri))).toEqual([{ uri: 'memo://today', name: 'today', mimeType: 'text/plain' }]);
    expect((await client.listResourceTemplates()).resourceTemplates.filter((t) => mine(t.uriTemplate))).toEqual([{ uriTemplate: 'memo://day/{n}', name: 'day' }]);
    expect((await client.readResource({ uri: 'memo://today' })).contents[0]).toMatchObject({ text: 'water the plants' });
    expect((await client.readResource({ uri: 'memo://day/7' })).contents[0]).toMatchObject({ text: 'memo for day 7' });
    await expect(client.readResource({ uri: 'memo://nothing' })).rejects.toMatchObject({ code: -32002 });
    const prompt = await client.getPrompt({ name: 'summarize', arguments: { topic: 'the queue' } });
    expect(prompt.messages[0]!.content).toEqual({ type: 'text', text: 'Summarize the queue.' });
    await expect(client.getPrompt({ name: 'summarize', arguments: {} })).rejects.toThrow(/needs the argument topic/);
    await expect(client.getPrompt({ name: 'nope' })).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
  });

  it('disables and enables a tool at run time; the client sees list_changed and the call refused', async () => {
    const gateway = await startGateway();
    gateway.plugins.registerTool(add);
    const client = await connectClient(gateway);
    await notificationsFlowing(gateway, client);
    const tools = watch(client, ToolListChangedNotificationSchema);
    let changed = tools.next();
    gateway.plugins.disable('add');
    await changed;
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('add');
    const refused = await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(McpError);
    expect((refused as McpError).message).toMatch(/Tool "add" is disabled on this gateway/);
    changed = tools.next();
    gateway.plugins.enable('add');
    await changed;
    expect((await call(client, 'add', { a: 1, b: 1 })).structuredContent).toEqual({ sum: 2 });
    gateway.plugins.enable('add'); // no change, no notification
    expect(tools.count()).toBe(2);
    expect(() => gateway.plugins.disable('no_such_thing')).toThrow(UnknownCapabilityError);
  });

  it('switches a whole plugin, with one notification per list it touches', async () => {
    const gateway = await startGateway();
    const closed: string[] = [];
    const plugin = definePlugin({
      name: 'notes',
      tools: [add],
      prompts: [{ name: 'recap', get: () => ({ messages: [] }) }],
      resources: [{ uri: 'notes://all', name: 'all', read: (u) => ({ contents: [{ uri: u.href, text: '' }] }) }],
      close: () => void closed.push('notes'),
    });
    gateway.plugins.use(plugin, { enabled: false });
    const client = await connectClient(gateway);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(withAlwaysOn());
    await notificationsFlowing(gateway, client);
    const watched = [ToolListChangedNotificationSchema, PromptListChangedNotificationSchema, ResourceListChangedNotificationSchema].map((s) => watch(client, s));
    const all = Promise.all(watched.map((w) => w.next()));
    gateway.plugins.enable('notes');
    await all;
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(withAlwaysOn('add'));
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['recap']);
    // An item switched off stays off when its plugin goes off and on again.
    gateway.plugins.disable('recap');
    gateway.plugins.disable('notes');
    gateway.plugins.enable('notes');
    expect(gateway.plugins.status().prompts).toEqual([{ key: 'recap', group: 'notes', enabled: false, live: false }]);
    expect((await client.listResources()).resources.map((r) => r.uri).filter((u) => u.startsWith('notes://'))).toEqual(['notes://all']);
    expect(() => gateway.plugins.use(plugin)).toThrow(/already in use/);
    expect(await gateway.plugins.remove('notes')).toBe(true);
    expect(closed).toEqual(['notes']);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(withAlwaysOn());
  });

  it('adds a plugin all or nothing when one of its items is invalid', async () => {
    const gateway = await startGateway();
    gateway.plugins.registerTool(add);
    const clash = definePlugin({ name: 'clash', tools: [{ ...add, name: 'fine' }, add] });
    expect(() => gateway.plugins.use(clash)).toThrow(/tool "add" is already registered/);
    expect(gateway.plugins.status().plugins).toEqual([]);
    expect(gateway.tools.list().map((t) => t.name)).toEqual(withAlwaysOn('add'));
  });

  it('speaks protocol errors at the Provider seam, as an aggregator expects of every provider', async () => {
    const local = new LocalProvider();
    local.registerTool(add);
    local.disable('add');
    const signal = new AbortController().signal;
    const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isMcpError(e) ? e.code : String(e)));
    expect(await codeOf(local.callTool('add', { a: 1, b: 2 }, { signal }))).toBe(ErrorCode.InvalidParams);
    expect(await codeOf(local.callTool('nope', {}, { signal }))).toBe(ErrorCode.InvalidParams);
    expect(await codeOf(local.readResource('memo://x', { signal }))).toBe(-32002);
    expect(await codeOf(local.getPrompt('nope', {}, { signal }))).toBe(ErrorCode.InvalidParams);
    local.enable('add');
    expect((await local.callTool('add', { a: 1, b: 2 }, { signal })).structuredContent).toEqual({ sum: 3 });
    expect(local.catalog().tools.map((t) => t.name)).toEqual(['add']);
    expect(local.health().state).toBe('up');
  });
});
