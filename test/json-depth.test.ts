// JSON nested past protocol/json-depth.ts's limit, from either side. A client's
// tools/call whose arguments nested 100,000 arrays deep (a 200 KB body) ended
// the gateway: the audit writer's timer overflowed the stack on them. An
// upstream's answer nested as deep was never answered to the client (its
// JSON could not be written). Both are refused now with a typed error, and
// the gateway goes on serving.
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { LoggingMessageNotificationSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../host/src/index.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../host/src/protocol/json-depth.js';
import { AuditLog } from '../host/src/security/audit/log.js';
import { openDatabaseFile } from '../host/src/storage/database.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { connectClient, eventually, NODE, routingOf, startGateway, textOf } from './helpers/gateway.js';
import { openSession, postMcp, type RawAnswer } from './helpers/auth.js';
import { tempDir } from './helpers/processes.js';
import { join } from 'node:path';

const DEEP_ANSWER_SERVER = join(import.meta.dirname, 'fixtures/deep-answer-server.mjs');

/** Arrays nested `depth` levels deep, as JSON text. */
const nestedText = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A tools/call body whose arguments hold `value` (JSON text) under "tree". */
const callBody = (id: number, name: string, value: string): string =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":{"tree":${value}}}}`;

/** The JSON-RPC message of a POST's answer, JSON or SSE. */
function answerOf(raw: RawAnswer): any {
  if (!String(raw.headers['content-type']).startsWith('text/event-stream')) return raw.json();
  const data = raw.body.split('\n').filter((line) => line.startsWith('data: ') && line.length > 6);
  return JSON.parse(data.at(-1)!.slice(6));
}

describe('nestsDeeperThan', () => {
  it('counts objects and arrays alike, to the exact level, and walks 100,000 levels without overflowing', () => {
    expect(nestsDeeperThan(JSON.parse(nestedText(MAX_JSON_DEPTH)))).toBe(false);
    expect(nestsDeeperThan(JSON.parse(nestedText(MAX_JSON_DEPTH + 1)))).toBe(true);
    const mixed = JSON.parse(`${'{"a":['.repeat(64)}1${']}'.repeat(64)}`);
    expect([nestsDeeperThan(mixed, 128), nestsDeeperThan(mixed, 127)]).toEqual([false, true]);
    expect(nestsDeeperThan(JSON.parse(nestedText(100_000)))).toBe(true);
    // Deep in a later member of a wide value, and under a member named __proto__ (an own member of parsed JSON).
    expect(nestsDeeperThan({ wide: Array.from({ length: 1000 }, (_, i) => ({ i })), last: JSON.parse(nestedText(200)) })).toBe(true);
    expect(nestsDeeperThan(JSON.parse(`{"__proto__":${nestedText(200)}}`))).toBe(true);
    expect([nestsDeeperThan('text'), nestsDeeperThan(null), nestsDeeperThan(7)]).toEqual([false, false, false]);
  });
});

describe('a client nesting too deep', () => {
  it('over HTTP: 400 Invalid Request before anything runs, then the gateway goes on; 128 levels pass (regression: the process ended)', async () => {
    const gateway = await startGateway({ analytics: { enabled: false } });
    let ran = 0;
    gateway.plugins.registerTool(defineTool({
      name: 'keep', description: 'Counts its calls.', input: z.object({ tree: z.unknown() }),
      handler: () => (ran++, { content: [{ type: 'text', text: 'kept' }] }),
    }));
    try {
      const session = await openSession(gateway.url, '');
      const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
      const deep = await postMcp(gateway.url, callBody(2, 'keep', nestedText(100_000)), undefined, headers);
      expect(deep.status).toBe(400);
      expect(deep.json().error).toMatchObject({ code: -32600, message: expect.stringMatching(/nests objects and arrays more than 128 levels deep/) });
      // The arguments sit two levels down (params, arguments): the tree may have 126 levels.
      const deepest = await postMcp(gateway.url, callBody(3, 'keep', nestedText(MAX_JSON_DEPTH - 3)), undefined, headers);
      expect(answerOf(deepest)).toMatchObject({ id: 3, result: { content: [{ text: 'kept' }] } });
      expect(ran).toBe(1);
      // The audit writer's timer runs and records the call that ran (the deep one never did).
      const rows = await eventually(async () => {
        await gateway.auditLog!.flush();
        const found = gateway.db.prepare("SELECT target FROM audit_log WHERE operation = 'tools/call'").all() as { target: string }[];
        return found.length > 0 ? found : undefined;
      });
      expect(rows).toEqual([{ target: 'keep' }]);
      expect((await postMcp(gateway.url, callBody(4, 'keep', '[]'), undefined, headers)).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it("on a session's own transport (stdio, an embedder's): the request is answered Invalid Request and never runs", async () => {
    const gateway = await startGateway();
    let ran = 0;
    gateway.plugins.registerTool(defineTool({
      name: 'keep', description: 'Counts its calls.', input: z.object({ tree: z.unknown() }),
      handler: () => (ran++, { content: [{ type: 'text', text: 'kept' }] }),
    }));
    const [client, server] = InMemoryTransport.createLinkedPair();
    const received: JSONRPCMessage[] = [];
    client.onmessage = (message) => void received.push(message);
    try {
      await gateway.connect(server);
      await client.start();
      await client.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
      await client.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      await client.send(JSON.parse(callBody(2, 'keep', nestedText(1000))) as JSONRPCMessage);
      await client.send(JSON.parse(callBody(3, 'keep', '[]')) as JSONRPCMessage);
      const answers = await eventually(() => (received.filter((m) => 'id' in m && m.id !== 1).length >= 2 ? received : undefined));
      expect(answers.find((m) => 'id' in m && m.id === 2)).toMatchObject({ error: { code: -32600, message: expect.stringMatching(/more than 128 levels deep/) } });
      expect(answers.find((m) => 'id' in m && m.id === 3)).toMatchObject({ result: { content: [{ text: 'kept' }] } });
      expect(ran).toBe(1);
    } finally {
      await client.close();
      await gateway.close();
    }
  });
});

describe('an upstream nesting too deep', () => {
  it('answers the call with an internal error saying why (regression: never answered), and the upstream stays up', async () => {
    const gateway = await startGateway({ aggregation: { prefix_mode: 'never' }, upstreams: [{ id: 'deep', transport: 'stdio', command: NODE, args: [DEEP_ANSWER_SERVER] }] });
    try {
      await gateway.ready();
      const session = await openSession(gateway.url, '');
      const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
      const deep = answerOf(await postMcp(gateway.url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'deep', arguments: {} } }), undefined, headers));
      expect(deep).toMatchObject({ id: 2, error: { code: -32603, message: expect.stringMatching(/Tool "deep" answered \(on provider "deep"\) with JSON that nests objects and arrays more than 128 levels deep/) } });
      const flat = answerOf(await postMcp(gateway.url, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'flat', arguments: {} } }), undefined, headers));
      expect(flat).toMatchObject({ id: 3, result: { content: [{ text: 'flat' }] } });
      // The provider answered both: two calls, no failure, none left in flight (each attempt counted once).
      const client = await connectClient(gateway);
      expect(await routingOf(client, 'deep')).toMatchObject({ circuit: 'closed', in_flight: 0, calls: 2, failures: 0 });
      await client.close();
    } finally {
      await gateway.close();
    }
  });
});

describe('an upstream notification nested too deep', () => {
  /** The log data a client saw while it called deep_log on an upstream whose log nests `depth` levels, and then flat. */
  async function logsSeen(depth: number): Promise<unknown[]> {
    const gateway = await startGateway({ aggregation: { prefix_mode: 'never' }, upstreams: [{ id: 'deep', transport: 'stdio', command: NODE, args: [DEEP_ANSWER_SERVER], env: { DEPTH: String(depth) } }] });
    try {
      await gateway.ready();
      const client = await connectClient(gateway);
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
      await client.setLoggingLevel('debug');
      expect(textOf(await client.callTool({ name: 'deep_log', arguments: {} }))).toBe('logged');
      expect(textOf(await client.callTool({ name: 'flat', arguments: {} }))).toBe('flat');
      // The log comes on the session's own stream, beside the answers: give it time to arrive.
      await eventually(() => (logs.length > 0 ? true : undefined), 2_000).catch(() => undefined);
      await client.close();
      return logs;
    } finally {
      await gateway.close();
    }
  }

  it('is dropped where it cannot be written; the call it came with is answered and the session goes on', async () => {
    // The same log two levels deep reaches the client: what is dropped is the deep one only.
    expect(await logsSeen(2)).toEqual([[[]]]);
    expect(await logsSeen(100_000)).toEqual([]);
  });
});

describe('an upstream listing a tool nested too deep', () => {
  it('leaves that tool out with a warning and serves the others (regression: the digest of its definition ended the process)', async () => {
    const lines: string[] = [];
    const gateway = await startGateway(
      { aggregation: { prefix_mode: 'never' }, upstreams: [{ id: 'deep', transport: 'stdio', command: NODE, args: [DEEP_ANSWER_SERVER], env: { LIST_DEPTH: '20000' } }] },
      createLogger('warn', (line) => lines.push(line)),
    );
    try {
      await gateway.ready();
      const client = await connectClient(gateway);
      // The gateway's own tools are listed too: only the upstream's are looked at.
      expect((await client.listTools()).tools.map((t) => t.name).filter((n) => ['deep', 'flat', 'deep_schema'].includes(n)).sort()).toEqual(['deep', 'flat']);
      expect(lines.join('\n')).toMatch(/upstream deep: left out the tool "deep_schema": its definition nests objects and arrays more than 128 levels deep/);
      expect((await client.callTool({ name: 'flat', arguments: {} })).content).toEqual([{ type: 'text', text: 'flat' }]);
      await client.close();
    } finally {
      await gateway.close();
    }
  });
});

describe('an answer that cannot be written as JSON', () => {
  it("is answered with an internal error for its id (an embedding program's tool returned a BigInt; regression: never answered)", async () => {
    const gateway = await startGateway();
    gateway.plugins.registerTool(defineTool({
      name: 'big', description: 'Answers with a BigInt.', input: z.object({}),
      handler: () => ({ content: [{ type: 'text', text: 'big' }], structuredContent: { n: 10n } }),
    }));
    try {
      const session = await openSession(gateway.url, '');
      const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
      const big = answerOf(await postMcp(gateway.url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'big', arguments: {} } }), undefined, headers));
      expect(big).toMatchObject({ id: 2, error: { code: -32603, message: expect.stringMatching(/could not be written as JSON \(.*BigInt/) } });
    } finally {
      await gateway.close();
    }
  });
});

describe('the audit log and arguments it cannot write as JSON', () => {
  it("records the event with a note in their place (an embedding program's arguments; regression: its timer threw and the process ended)", async () => {
    const db = openDatabaseFile(join(tempDir(), 'audit.db'));
    const audit = new AuditLog(db, { enabled: true, recordArguments: true, flushIntervalMs: 60_000, batchMax: 1000, maxPending: 100, onOverflow: 'drop' }, createLogger('silent'));
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    // A function cannot be cloned to the writer; with it, the arguments' JSON is what crosses, and a cycle has none.
    audit.record({ operation: 'tools/call', outcome: 'ok', target: 'embedded', arguments: { cyclic, run: () => 1 } });
    audit.record({ operation: 'tools/call', outcome: 'ok', target: 'after', arguments: { a: 1 } });
    await audit.close();
    const rows = db.prepare('SELECT target, arguments FROM audit_log ORDER BY seq').all() as { target: string; arguments: string }[];
    expect(rows.map((r) => r.target)).toEqual(['embedded', 'after']);
    expect(JSON.parse(rows[0]!.arguments)).toMatch(/^\(arguments not recordable: .+\)$/);
    expect(rows[1]!.arguments).toBe('{"a":1}');
    expect(audit.store.verify().ok).toBe(true);
    db.close();
  });
});
