// The hot-path checks of tools/call (host/src/gateway/call-checks.ts): what the
// plain walk accepts, the SDK's schemas accept unchanged; what it does not
// goes through those schemas, with their errors.
import { describe, expect, it } from 'vitest';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, CallToolResultSchema, JSONRPCRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { McpError } from '../host/src/protocol/mcp-error.js';
import { checkedCallResult, handleToolCalls, isPlainCallParams, isPlainTextResult } from '../host/src/gateway/call-checks.js';
import { isPlainRequest } from '../host/src/gateway/streamable/messages.js';
import { dispatchRequestsDirectly, HttpSessionTransport } from '../host/src/gateway/streamable/session-transport.js';

const results: unknown[] = [
  { content: [{ type: 'text', text: 'hello' }] },
  { content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], isError: true },
  { content: [], structuredContent: { n: 1 } },
  { content: [{ type: 'text', text: 'x', annotations: { priority: 1 } }] },
  { content: [{ type: 'image', data: 'AAAA', mimeType: 'image/png' }] },
  { content: [{ type: 'text', text: 'x' }], _meta: { k: 1 } },
  { content: [{ type: 'text', text: 'x' }], extra: 'kept or stripped by the schema' },
  { content: [{ type: 'text', text: 5 }] },
  { content: 'not a list' },
  { content: [{ type: 'text', text: 'x' }], isError: 'yes' },
  { content: [{ type: 'text', text: 'x' }], structuredContent: [1, 2] },
  { isError: false },
  null,
  [],
];

describe('tools/call result check', () => {
  it('accepts as plain only results the SDK schema passes unchanged', () => {
    let plain = 0;
    for (const result of results) {
      if (!isPlainTextResult(result)) continue;
      plain += 1;
      const parsed = CallToolResultSchema.safeParse(result);
      expect(parsed.success, JSON.stringify(result)).toBe(true);
      expect(parsed.data).toStrictEqual(result);
    }
    expect(plain).toBe(3);
  });

  it('sends a plain result as it is, and any other result as the SDK schema makes it', () => {
    const params = { name: 'tool' };
    const plain = { content: [{ type: 'text' as const, text: 'hi' }] };
    expect(checkedCallResult(params, plain)).toBe(plain);
    const image = { content: [{ type: 'image', data: 'AAAA', mimeType: 'image/png' }] };
    expect(checkedCallResult(params, image)).toStrictEqual(CallToolResultSchema.parse(image));
  });

  it('refuses a malformed result with INVALID_PARAMS and the schema\'s words', () => {
    for (const bad of [{ content: 'not a list' }, { content: [{ type: 'text', text: 5 }] }, null]) {
      let error: unknown;
      try {
        checkedCallResult({ name: 'tool' }, bad);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(McpError);
      expect((error as McpError).code).toBe(-32602);
      expect((error as McpError).message).toMatch(/Invalid tools\/call result: /);
    }
  });

  it('checks the result of a call that asked for a task as a task', () => {
    expect(() => checkedCallResult({ name: 'tool', task: { ttl: 1000 } }, { content: [] })).toThrow(/Invalid task creation result/);
  });
});

describe('tools/call params check', () => {
  const cases: Array<Record<string, unknown>> = [
    { name: 't' },
    { name: 't', arguments: { a: 1 } },
    { name: 't', arguments: {}, _meta: { progressToken: 'p1' } },
    { name: 't', _meta: { progressToken: 7 } },
    { name: 't', _meta: { progressToken: 1.5 } },
    { name: 't', _meta: { other: true } },
    { name: 't', _meta: 'no' },
    { name: 't', task: { ttl: 10 } },
    { name: 't', extra: 1 },
  ];

  it('takes as plain only params the SDK schema passes unchanged', () => {
    const plain = cases.filter(isPlainCallParams);
    expect(plain).toHaveLength(4);
    for (const params of plain) {
      const parsed = CallToolRequestSchema.shape.params.safeParse(params);
      expect(parsed.success).toBe(true);
      expect(parsed.data).toStrictEqual(params);
    }
  });
});

describe('JSON-RPC request check', () => {
  const related = 'io.modelcontextprotocol/related-task';
  const cases: unknown[] = [
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: {} } },
    { jsonrpc: '2.0', id: 'a', method: 'tools/list' },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 't', _meta: { progressToken: 'p' } } },
    { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 't', _meta: { progressToken: 4, other: 'x' } } },
    { jsonrpc: '2.0', id: 4, method: 'x', params: { _meta: { progressToken: 1.5 } } },
    { jsonrpc: '2.0', id: 5, method: 'x', params: { _meta: { [related]: { taskId: 't' } } } },
    { jsonrpc: '2.0', id: 6, method: 'x', params: { _meta: 'no' } },
    { jsonrpc: '2.0', id: 7.5, method: 'x' },
    { jsonrpc: '2.0', id: null, method: 'x' },
    { jsonrpc: '2.0', id: 8, method: 'x', extra: true },
    { jsonrpc: '2.0', id: 9, method: 'x', params: [1] },
    { jsonrpc: '1.0', id: 10, method: 'x' },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
  ];

  it('takes as plain only requests the SDK schema passes unchanged', () => {
    const plain = cases.filter(isPlainRequest);
    expect(plain).toHaveLength(4);
    for (const message of plain) {
      const parsed = JSONRPCRequestSchema.safeParse(message);
      expect(parsed.success, JSON.stringify(message)).toBe(true);
      expect(parsed.data).toStrictEqual(message);
    }
  });

  it('hands plain requests to the SDK Protocol directly, past its classification', () => {
    // An SDK without `_onrequest` would silently fall back to the slower path: this notices.
    const server = new Server({ name: 't', version: '1' }, { capabilities: {} });
    const transport = new HttpSessionTransport('s', { limits: { maxEvents: 1, maxBytes: 1 }, streamAfterMs: 0 });
    expect(dispatchRequestsDirectly(server, transport)).toBe(true);
    expect(transport.onPlainRequest).toBeTypeOf('function');
  });

  it("calls the params check itself in the Protocol's tools/call entry, handing on what the schema would", async () => {
    // An SDK that keeps its handlers elsewhere would silently parse with zod again: this notices.
    const server = new Server({ name: 't', version: '1' }, { capabilities: { tools: {} } });
    const seen: unknown[] = [];
    const check = (params: unknown) => {
      if (typeof (params as { name?: unknown } | undefined)?.name !== 'string') throw new McpError(-32602, 'tools/call needs a name');
      return params as { name: string };
    };
    expect(handleToolCalls(server, CallToolRequestSchema, async (request) => (seen.push(request), { content: [] }), check)).toBe(true);
    const entry = (server as unknown as { _requestHandlers: Map<string, (r: unknown, e: unknown) => Promise<unknown>> })._requestHandlers.get('tools/call')!;
    const request = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { a: 1 }, _meta: { progressToken: 'p' } } };
    await expect(entry(request, {})).resolves.toEqual({ content: [] });
    // What zod gives: the same method and params, without jsonrpc and id.
    expect(seen).toStrictEqual([CallToolRequestSchema.parse(request)]);
    // Thrown as the SDK's own wrapper throws a failed parse: the Protocol calls the entry inside a promise chain.
    expect(() => entry({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { arguments: {} } }, {})).toThrow(/needs a name/);
    expect(() => entry({ jsonrpc: '2.0', id: 5, method: 'tools/call' }, {})).toThrow(McpError);
    expect(seen).toHaveLength(1);
  });
});
