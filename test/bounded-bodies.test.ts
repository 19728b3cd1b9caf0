// Answers read through fetch from another process are bounded as every other
// message is (64 MiB, protocol/message-size.ts): a queue destination's answer
// to one call or to a batch, a cloud model endpoint's refusal and its event
// stream. Each server here is scripted on 127.0.0.1 and sends more than the
// bound (or never stops); before bounded-body.ts each answer was read whole,
// or for ever.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadCore, openDatabase, OfflineQueue, type EdgeCore } from '../host/src/index.js';
import { OpenAiCloudEngine } from '../host/src/models/cloud-engine.js';
import type { GenerateRequest } from '../host/src/models/engine.js';
import { SseEventMeter } from '../host/src/protocol/bounded-body.js';
import { MAX_MESSAGE_BYTES } from '../host/src/protocol/message-size.js';
import { ChunkTooLarge, DestinationError } from '../host/src/queue/delivery.js';
import { mcpHttpDeliverer } from '../host/src/queue/mcp-deliverer.js';
import type { Db } from '../host/src/storage/database.js';
import { eventually } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';
import { silentLogger } from './helpers/queue.js';

const servers: Server[] = [];
afterAll(() => {
  for (const server of servers) server.closeAllConnections(), server.close();
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

/** Writes `piece` until the connection closes (or `limit` bytes): a body without end. Resolves with the bytes written. */
function flood(res: ServerResponse, piece: string, limit = Infinity): Promise<number> {
  return new Promise((resolve) => {
    let written = 0;
    const more = () => {
      while (!res.destroyed && written < limit) {
        written += piece.length;
        if (!res.write(piece)) return void res.once('drain', more);
      }
      resolve(written);
    };
    res.once('close', () => resolve(written));
    more();
  });
}

describe('SseEventMeter', () => {
  const meter = (max: number, text: string, chunkSize: number) => {
    const m = new SseEventMeter(max);
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length; i += chunkSize) if (!m.push(bytes.subarray(i, i + chunkSize))) return false;
    return true;
  };

  it('bounds each event, not the stream, with LF, CRLF or CR line ends, however the chunks fall', () => {
    for (const end of ['\n', '\r\n', '\r']) {
      const event = `data: 1234${end}data: 5${end}${end}`; // 10 + 7 bytes of lines
      for (const size of [1, 2, 3, 7, 1000]) {
        expect(meter(17, event.repeat(50), size), `${JSON.stringify(end)} in chunks of ${size}`).toBe(true);
        expect(meter(16, event.repeat(50), size), `${JSON.stringify(end)} in chunks of ${size}`).toBe(false);
      }
    }
  });

  it('does not take a CRLF for a blank line, nor a lone line end for the end of an event', () => {
    // Each line ends with CRLF: a meter that saw CR and LF as two line ends would end the event after each line.
    expect(meter(14, 'data: a\r\ndata: b\r\n\r\n', 1)).toBe(true);
    expect(meter(13, 'data: a\r\ndata: b\r\n\r\n', 1)).toBe(false);
    expect(meter(13, 'data: a\ndata: b\n\n', 5)).toBe(false);
  });
});

/** A Streamable HTTP destination that answers the tools/call of `big: true` with more than 64 MiB of text. */
class ScriptedDestination {
  /** Each POST of calls: "single", or "batch of N". */
  readonly posts: string[] = [];
  private readonly big = 'x'.repeat(MAX_MESSAGE_BYTES + 1024);

  start(): Promise<string> {
    return listen((req, res) => void this.serve(req, res));
  }

  private answer(message: { id: number; params: { arguments: { n: number; big?: boolean } } }) {
    const { n, big } = message.params.arguments;
    return { jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: big ? this.big : `did ${n}` }] } };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const message = JSON.parse(await bodyOf(req));
    const json = (value: unknown): void => void res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'scripted' }).end(JSON.stringify(value));
    if (Array.isArray(message)) {
      this.posts.push(`batch of ${message.length}`);
      return json(message.map((m) => this.answer(m)));
    }
    if (message.method === 'initialize') {
      const result = { protocolVersion: message.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'scripted', version: '0' } };
      return json({ jsonrpc: '2.0', id: message.id, result });
    }
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method !== 'tools/call') return json({ jsonrpc: '2.0', id: message.id, result: {} });
    this.posts.push('single');
    json(this.answer(message));
  }
}

const textOf = (result: CallToolResult | Error) => (result instanceof Error ? result.message : (result.content[0] as { text: string }).text);

describe('a queue destination answering more than 64 MiB', () => {
  let core: EdgeCore;
  const open: { q: OfflineQueue; db: Db }[] = [];
  afterEach(async () => {
    for (const { q, db } of open.splice(0)) await q.close(), db.close();
  });

  it('fails that one call for good (it ran; asking again brings the same answer), and the next call goes through', async () => {
    const destination = new ScriptedDestination();
    const deliverer = mcpHttpDeliverer({ far: await destination.start() }, 30_000);
    const signal = new AbortController().signal;
    try {
      const refused = await deliverer.deliver('far', { tool: 'record', arguments: { n: 1, big: true }, idempotencyKey: 'k1' }, signal).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(DestinationError);
      expect((refused as Error).message).toMatch(new RegExp(`far answered the call: the answer of http://127\\.0\\.0\\.1:\\d+/ is larger than ${MAX_MESSAGE_BYTES} bytes`));
      expect(textOf(await deliverer.deliver('far', { tool: 'record', arguments: { n: 2 }, idempotencyKey: 'k2' }, signal))).toBe('did 2');
    } finally {
      await deliverer.close();
    }
  });

  it('sends the calls of a batch whose answer is too large one by one, and goes on batching', async () => {
    const destination = new ScriptedDestination();
    const deliverer = mcpHttpDeliverer({ far: await destination.start() }, 30_000);
    const signal = new AbortController().signal;
    const call = (n: number, big = false) => ({ tool: 'record', arguments: big ? { n, big } : { n }, idempotencyKey: `k${n}` });
    try {
      const tooLarge = await deliverer.deliverMany('far', [call(1), call(2, true), call(3)], signal).catch((err: unknown) => err);
      expect(tooLarge).toBeInstanceOf(ChunkTooLarge);
      expect((tooLarge as Error).message).toMatch(/to a batch of 3 calls is larger than 67108864 bytes/);
      // Not a refusal of batches: the next batch is sent as one.
      const answers = await deliverer.deliverMany('far', [call(4), call(5)], signal);
      expect(answers?.map(textOf)).toEqual(['did 4', 'did 5']);
      expect(destination.posts).toEqual(['batch of 3', 'batch of 2']);
    } finally {
      await deliverer.close();
    }
  });

  it('through the queue: the batch goes again one call at a time; the large one fails, the others complete', async () => {
    const destination = new ScriptedDestination();
    const deliverer = mcpHttpDeliverer({ far: await destination.start() }, 30_000);
    core ??= await loadCore();
    const db = openDatabase(tempDir('mcp-edge-bounded-'));
    const q = await OfflineQueue.open(db, core, {
      destinations: { far: { ttlMs: 0, window: 8 } },
      deliver: deliverer.deliver,
      deliverMany: deliverer.deliverMany,
      tickMs: 60_000,
      log: silentLogger,
    });
    await q.ready;
    open.push({ q, db });
    // The three wait together, so they go as one batch.
    q.setDeliveryPacing({ tickMs: 60_000, pauseMs: 60_000, maxWindow: 0 });
    const tasks: string[] = [];
    for (const n of [1, 2, 3]) tasks.push((await q.enqueue({ destination: 'far', tool: 'record', arguments: n === 2 ? { n, big: true } : { n } })).taskId);
    await q.deliverNow();
    await eventually(() => (tasks.every((t) => ['completed', 'failed'].includes(String(q.taskRow(t)?.state))) ? true : undefined), 20_000, 'all three settled');
    expect(tasks.map((t) => q.taskRow(t)?.state)).toEqual(['completed', 'failed', 'completed']);
    expect(destination.posts).toEqual(['batch of 3', 'single', 'single', 'single']);
    await deliverer.close();
  });
});

describe('a cloud model endpoint that sends without end', () => {
  const ask: GenerateRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 8, temperature: 0 };
  const engine = (url: string) => new OpenAiCloudEngine({ endpoint: `${url}/v1`, timeoutMs: 1_000, maxAttempts: 1 });

  it('a refusal whose body never ends: the error quotes its start, and the connection is closed', async () => {
    let sent: Promise<number> | undefined;
    const url = await listen((req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      sent = flood(res, 'overloaded '.repeat(10_000));
    });
    const err = await engine(url).generate(ask, () => undefined).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('cloud_unreachable');
    expect((err as Error).message).toMatch(/answered 500 after 1 attempt\(s\): overloaded overloaded/);
    // The engine let go of the body: the server's writes end well short of the bound.
    expect(await sent).toBeLessThan(MAX_MESSAGE_BYTES);
  });

  it('a refusal whose body never comes: the engine gives up at its timeout', async () => {
    const url = await listen((_req, res) => void res.writeHead(503, { 'content-type': 'text/plain' }).flushHeaders());
    const started = performance.now();
    const err = await engine(url).generate(ask, () => undefined).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/answered 503 after 1 attempt\(s\)/);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('an event that never ends: the stream is broken off past 64 MiB', async () => {
    let sent: Promise<number> | undefined;
    const url = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"');
      sent = flood(res, 'a'.repeat(65_536));
    });
    const err = await engine(url).generate(ask, () => undefined).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('cloud_stream_broken');
    expect((err as Error).message).toMatch(new RegExp(`sent too much: an SSE event exceeds ${MAX_MESSAGE_BYTES} characters; the stream was closed`));
    expect(await sent).toBeLessThan(2 * MAX_MESSAGE_BYTES);
  });
});
