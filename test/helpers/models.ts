// The model tests' parts: the real test model (fetched into the user cache by
// scripts/models.mjs), a client that reads SSE completions, and a scripted
// OpenAI-compatible server for the faults a real cloud shows now and then.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';
import { ensureTestModel } from '../../scripts/models.mjs';

/** The SmolLM2-135M-Instruct GGUF in the model cache. */
export const TEST_MODEL_PATH: string = ensureTestModel();

/** [models] keys of the test model: one thread (2 shared cores), a small context (quick to create). */
export const LOCAL_MODEL = { model_path: TEST_MODEL_PATH, threads: 1, context_size: 512 } as const;

/** The base URL of a gateway's HTTP routes (gateway.url without /mcp). */
export const baseOf = (mcpUrl: string): string => mcpUrl.replace(/\/mcp$/, '');

/** POSTs `body` as JSON; the answer's status, headers and JSON body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

export interface SseEvent {
  event?: string;
  data: string;
}

/** POSTs `body` and reads the SSE answer to its end: every event, and how many network reads delivered them. */
export async function postSse(url: string, body: unknown): Promise<{ status: number; headers: Headers; events: SseEvent[]; reads: number }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify(body) });
  const events: SseEvent[] = [];
  let reads = 0;
  let buffered = '';
  const decoder = new TextDecoder();
  const reader = res.body!.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    reads += 1;
    buffered += decoder.decode(r.value, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = block.split('\n').find((l) => l.startsWith('event: '))?.slice(7);
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      events.push({ ...(event ? { event } : {}), data });
    }
  }
  return { status: res.status, headers: res.headers, events, reads };
}

/** What the scripted server does with one request. */
export type Script =
  | { kind: 'answer'; pieces: string[]; status?: number }
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'drop'; pieces: string[] }
  /** Holds the response headers until the client gives up (or `ms` passes), then answers. */
  | { kind: 'slow'; ms: number; pieces: string[] };

/** An OpenAI-compatible server that plays `scripts` in order (the last one repeats) and records what it was asked. */
export class ScriptedCloud {
  /** `at` on the monotonic clock (what tests compare); `wall` on Date.now's, which the queue schedules by. */
  readonly requests: { at: number; wall: number; body: any; authorization: string | undefined }[] = [];
  private server: Server | undefined;

  constructor(private readonly scripts: Script[]) {}

  /** Listens on `port` (0: any free one; the port of an earlier start() brings the same endpoint back). */
  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    const server = this.server;
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  }

  /** Cuts the link: the port refuses connections until start() again. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const script = this.scripts[Math.min(this.requests.length, this.scripts.length - 1)]!;
    this.requests.push({ at: performance.now(), wall: Date.now(), body: JSON.parse(text), authorization: req.headers.authorization });
    if (script.kind === 'status') {
      res.writeHead(script.status, { 'content-type': 'application/json', ...(script.retryAfter ? { 'retry-after': script.retryAfter } : {}) });
      return void res.end(script.body ?? JSON.stringify({ error: { message: `scripted ${script.status}` } }));
    }
    if (script.kind === 'slow') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, script.ms);
        res.once('close', () => (clearTimeout(timer), resolve()));
      });
      if (res.destroyed) return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const piece of script.pieces) {
      res.write(`data: ${JSON.stringify({ object: 'chat.completion.chunk', model: 'scripted', choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`);
      await new Promise((r) => setTimeout(r, 5));
    }
    // A dropped stream: the connection ends without a finish_reason or [DONE].
    if (script.kind === 'drop') return void res.socket?.destroy();
    res.write(`data: ${JSON.stringify({ object: 'chat.completion.chunk', model: 'scripted', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    res.end('data: [DONE]\n\n');
  }
}
