// Transparency through the gateway, against server-everything over stdio and
// over Streamable HTTP: the upstream's sampling and elicitation requests reach
// the client that made the call, progress comes back under the client's own
// token, logging (with the client's level) and resource updates are forwarded.
import { spawn } from 'node:child_process';
import { describe, expect, it, afterAll } from 'vitest';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, eventually, EVERYTHING, freePort, NODE, startGateway, textOf, type UpstreamInput } from './helpers/gateway.js';
import { waitForOutput } from './helpers/processes.js';

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** server-everything over HTTP on a free port (Streamable HTTP, or the legacy SSE transport); returns its URL. */
async function everythingOverHttp(mode: 'streamableHttp' | 'sse'): Promise<string> {
  const port = await freePort();
  const child = spawn(NODE, [EVERYTHING, mode], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForOutput(child.stderr, /(listening|running) on port/i, 15_000);
  return `http://127.0.0.1:${port}/${mode === 'sse' ? 'sse' : 'mcp'}`;
}

type Wire = 'stdio' | 'http' | 'sse';

/** The upstream entry; "sse" is declared as http, so the gateway must fall back to the legacy transport. */
async function upstreamFor(wire: Wire): Promise<UpstreamInput> {
  if (wire === 'stdio') return { id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING, 'stdio'] };
  const url = await everythingOverHttp(wire === 'http' ? 'streamableHttp' : 'sse');
  return { id: 'ev', transport: 'http', url };
}

async function transportInReport(client: Client): Promise<string> {
  const read = await client.readResource({ uri: 'mcp-edge://providers' });
  const report = JSON.parse(String((read.contents[0] as { text: string }).text));
  return report.providers.find((p: { id: string }) => p.id === 'ev').transport;
}

function clientWithHandlers(setup: { sampled: string[]; elicited: string[] }) {
  return (client: Client) => {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      const first = request.params.messages[0]?.content;
      setup.sampled.push(first && 'text' in first ? String(first.text) : '');
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: 'sampled by the test client' } };
    });
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      setup.elicited.push(request.params.message);
      return { action: 'accept', content: { name: 'Ada', check: true } };
    });
  };
}

describe.each(['stdio', 'http', 'sse'] as const)('forwarding through the gateway (upstream over %s)', (transport) => {
  it('sends sampling and elicitation to the calling client and returns their answers', async () => {
    const gateway = await startGateway({ upstreams: [await upstreamFor(transport)] });
    const seen = { sampled: [] as string[], elicited: [] as string[] };
    const client = await connectClient(gateway, { capabilities: { sampling: {}, elicitation: {} } }, clientWithHandlers(seen));
    expect(await transportInReport(client)).toBe(transport);
    const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'tell me about the edge' } });
    expect(textOf(sampled)).toContain('sampled by the test client');
    expect(seen.sampled[0]).toContain('tell me about the edge');
    const elicited = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(JSON.stringify(elicited)).toContain('Ada');
    expect(seen.elicited).toHaveLength(1);
  });

  it('returns progress under the client token, and forwards logging and resource updates', async () => {
    const gateway = await startGateway({ upstreams: [await upstreamFor(transport)] });
    const logs: LoggingMessageNotification['params'][] = [];
    const updates: string[] = [];
    const client = await connectClient(gateway, {}, (c) => {
      c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
      c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    });
    const progress: number[] = [];
    const done = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(textOf(done)).toContain('Long running operation completed');
    // Every step, the last included: it often shares a chunk with the result,
    // which the SDK's own progress dispatch loses (the gateway relays from the wire).
    expect(progress).toEqual([1, 2, 3]);

    await client.setLoggingLevel('debug');
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    const message = await eventually(() => logs[0], 10_000, 'a forwarded log message');
    expect(String(message.data)).toMatch(/message/i);

    const uri = (await client.listResources()).resources.map((r) => r.uri).find((u) => u.startsWith('demo://'));
    expect(uri).toBeDefined();
    await client.subscribeResource({ uri: uri! });
    await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    expect(await eventually(() => updates.find((u) => u === uri), 10_000, 'a forwarded resource update')).toBe(uri);
  });
});

describe('upstream requests with several clients in flight', () => {
  it('refuses a sampling request it cannot attribute instead of showing it to the wrong client', async () => {
    const gateway = await startGateway({ upstreams: [await upstreamFor('stdio')] });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const seenByA: string[] = [];
    const seenByB: string[] = [];
    const a = await connectClient(gateway, { capabilities: { sampling: {} } }, (c) =>
      c.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        seenByA.push(JSON.stringify(request.params.messages));
        await held;
        return { role: 'assistant', model: 'm', content: { type: 'text', text: 'answer for A' } };
      }),
    );
    const b = await connectClient(gateway, { capabilities: { sampling: {} } }, (c) =>
      c.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        seenByB.push(JSON.stringify(request.params.messages));
        return { role: 'assistant', model: 'm', content: { type: 'text', text: 'answer for B' } };
      }),
    );
    const callA = a.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt of A' } });
    await eventually(() => seenByA[0], 10_000, "A's sampling request");
    const resultB = await b.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt of B' } }).catch((err: Error) => err);
    expect(String(resultB instanceof Error ? resultB.message : JSON.stringify(resultB))).toMatch(/cannot tell which client/);
    release();
    expect(textOf(await callA)).toContain('answer for A');
    expect(seenByA).toHaveLength(1);
    expect(seenByA[0]).toContain('prompt of A');
    expect(seenByB).toEqual([]);
  });
});

describe.each(['stdio', 'http'] as const)('session_mode "per-client" (upstream over %s)', (transport) => {
  it('gives each client its own upstream session, so concurrent sampling reaches the right client', async () => {
    const upstream: UpstreamInput = { ...(await upstreamFor(transport)), session_mode: 'per-client' };
    const gateway = await startGateway({ upstreams: [upstream] });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const seen = { a: [] as string[], b: [] as string[] };
    const sampler = (who: 'a' | 'b') => (c: Client) =>
      c.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        seen[who].push(JSON.stringify(request.params.messages));
        if (who === 'a') await held;
        return { role: 'assistant', model: 'm', content: { type: 'text', text: `answer for ${who}` } };
      });
    const a = await connectClient(gateway, { capabilities: { sampling: {} } }, sampler('a'));
    const b = await connectClient(gateway, { capabilities: { sampling: {} } }, sampler('b'));
    const callA = a.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt of A' } });
    await eventually(() => seen.a[0], 10_000, "A's sampling request");
    const resultB = await b.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt of B' } });
    expect(textOf(resultB)).toContain('answer for b');
    release();
    expect(textOf(await callA)).toContain('answer for a');
    expect([seen.a.length, seen.b.length]).toEqual([1, 1]);
    expect(seen.a[0]).toContain('prompt of A');
    expect(seen.b[0]).toContain('prompt of B');

    const sessions = async () => {
      const read = await a.readResource({ uri: 'mcp-edge://providers' });
      return JSON.parse(String((read.contents[0] as { text: string }).text)).providers.find((p: { id: string }) => p.id === 'ev').client_sessions;
    };
    expect(await sessions()).toBe(2);
    // B ends its session (DELETE): the gateway closes B's upstream session.
    await (b.transport as unknown as { terminateSession(): Promise<void> }).terminateSession();
    await eventually(async () => ((await sessions()) === 1 ? true : undefined), 10_000, "B's upstream session to close");
  });
});
