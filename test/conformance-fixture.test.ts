// The conformance fixture over stdio, the way the gateway and supergateway run it:
// the suite itself only speaks Streamable HTTP, so this proves the stdio mode
// carries the same catalog and the server-to-client requests.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURE = join(import.meta.dirname, 'fixtures/conformance-server/main.mjs');

describe('conformance fixture over stdio', () => {
  const client = new Client(
    { name: 'fixture-stdio-test', version: '0.0.0' },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  const logs: unknown[] = [];

  beforeAll(async () => {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
      role: 'assistant',
      content: { type: 'text', text: `echo ${JSON.stringify(request.params.messages[0]?.content)}` },
      model: 'test-model',
    }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { username: 'u', email: 'e@x' } }));
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [FIXTURE, '--stdio'], stderr: 'pipe' }));
  }, 15_000);

  afterAll(async () => {
    await client.close();
  });

  it('lists the tools, prompts and resources the suite expects', async () => {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['test_simple_text', 'test_sampling', 'test_elicitation_sep1330_enums', 'json_schema_2020_12_tool']));
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain('test_prompt_with_arguments');
    const read = await client.readResource({ uri: 'test://template/42/data' });
    expect(JSON.stringify(read.contents)).toContain('42');
  });

  it('asks the client to sample and returns the answer', async () => {
    const result = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hello fixture' } });
    expect(JSON.stringify(result.content)).toContain('hello fixture');
  });

  it('elicits, logs and reports progress on the request being served', async () => {
    const elicited = await client.callTool({ name: 'test_elicitation', arguments: { message: 'who?' } });
    expect(JSON.stringify(elicited.content)).toContain('action=accept');
    await client.setLoggingLevel('debug');
    await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(logs).toEqual(['Tool execution started', 'Tool processing data', 'Tool execution completed']);
  });

  // Checked on the wire: the SDK client hands progress to its handler a microtask
  // late, so a last progress notification read in the same chunk as the response
  // is dropped by the client even though the server sent it.
  it('sends progress 0, 50, 100 before the tool result', async () => {
    const lines = await rawStdioExchange([
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: 'p1' } } },
    ], 2);
    const progress = lines.filter((m) => m.method === 'notifications/progress').map((m) => m.params);
    expect(progress).toEqual([0, 50, 100].map((n) => ({ progressToken: 'p1', progress: n, total: 100 })));
    expect(lines.at(-1)).toMatchObject({ id: 2, result: { content: [{ type: 'text' }] } });
  });

  it('answers a missing argument with a tool error, not a crash', async () => {
    const result = await client.callTool({ name: 'test_sampling', arguments: {} });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("'prompt'");
    expect((await client.ping())).toEqual({});
  });
});

interface WireMessage {
  id?: number;
  method?: string;
  params?: unknown;
  result?: unknown;
}

/** Writes messages to a fresh fixture's stdin; resolves with every line read until the response to `lastId`. */
function rawStdioExchange(messages: object[], lastId: number): Promise<WireMessage[]> {
  const child = spawn(process.execPath, [FIXTURE, '--stdio'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const seen: WireMessage[] = [];
  return new Promise<WireMessage[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no response ${lastId}; saw ${JSON.stringify(seen)}`)), 10_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as WireMessage;
      seen.push(message);
      if (message.id !== lastId) return;
      clearTimeout(timer);
      resolve(seen);
    });
    for (const m of messages) child.stdin.write(`${JSON.stringify(m)}\n`);
  }).finally(() => child.kill('SIGKILL'));
}
