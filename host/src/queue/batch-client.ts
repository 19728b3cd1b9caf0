// A lean Streamable HTTP client for draining a backlog: many tools/call
// requests in one POST (a JSON-RPC batch, as the 2025-03-26 revision of MCP
// allows, which is the version this client asks for), over fetch's keep-alive
// pool. One POST per batch instead of one per call is what lets a deep queue
// drain at thousands of calls a second; the SDK client (mcp-deliverer.ts)
// stays for single calls and for destinations that refuse batches.
//
// A destination that refuses a batch (HTTP 4xx other than 404, or a single
// error in place of the array) is remembered as "no batches" and its calls go
// one by one; per-message errors in an accepted batch map to each call (a
// link-failure code leaves that call queued, any other error fails it). An
// answer is read up to MAX_MESSAGE_BYTES: a batch whose answer is larger goes
// again one call at a time (ChunkTooLarge), each answer with that bound.
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { boundedText, MessageTooLarge } from '../protocol/bounded-body.js';
import { isLinkFailure } from '../protocol/jsonrpc.js';
import { MAX_MESSAGE_BYTES } from '../protocol/message-size.js';
import { VERSION } from '../version.js';
import { ChunkTooLarge, DestinationError, type DeliveryCall } from './delivery.js';
import { IDEMPOTENCY_META_KEY } from './idempotency.js';

/** The revision of MCP whose Streamable HTTP transport carries JSON-RPC batches. */
const BATCH_PROTOCOL = '2025-03-26';

/** What one call in a batch came to: its result, a final refusal, or a link failure (it stays queued). */
export type BatchAnswer = CallToolResult | DestinationError | Error;

/** The destination does not take batches: send these calls one by one. */
export class BatchRefused extends Error {
  override readonly name = 'BatchRefused';
}

interface RpcAnswer {
  id?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown };
}

export class BatchClient {
  private session: Promise<string | undefined> | undefined;
  private nextId = 1;

  constructor(
    private readonly url: string,
    private readonly fetch: FetchLike,
    private readonly timeoutMs: number,
  ) {}

  /** Sends `calls` in one POST; one answer per call, in order. Throws on a link failure or BatchRefused. */
  async send(calls: readonly DeliveryCall[], signal: AbortSignal): Promise<BatchAnswer[]> {
    const session = await this.connect(signal);
    const first = this.nextId;
    this.nextId += calls.length;
    const body = calls.map((c, i) => ({ jsonrpc: '2.0', id: first + i, method: 'tools/call', params: { name: c.tool, arguments: c.arguments, _meta: { [IDEMPOTENCY_META_KEY]: c.idempotencyKey } } }));
    const res = await this.post(body, session, signal);
    if (res.status === 404 && session !== undefined) {
      // The destination restarted and forgot the session: none of these ran under it; start over next time.
      this.session = undefined;
      throw new Error(`${this.url}: the session expired (HTTP 404)`);
    }
    if (res.status >= 400 && res.status < 500) throw new BatchRefused(`${this.url} refused a batch (HTTP ${res.status})`);
    if (!res.ok) throw new Error(`${this.url} answered HTTP ${res.status}`);
    let answers: RpcAnswer[];
    try {
      answers = await readAnswers(res, `the answer of ${this.url} to a batch of ${calls.length} calls`);
    } catch (err) {
      if (err instanceof MessageTooLarge) throw new ChunkTooLarge(err.message);
      throw err;
    }
    if (answers.length === 1 && calls.length > 1 && answers[0]!.id === undefined) throw new BatchRefused(`${this.url} refused a batch: ${String(answers[0]!.error?.message)}`);
    const byId = new Map(answers.map((a) => [a.id, a]));
    return calls.map((_, i) => answerOf(byId.get(first + i)));
  }

  /** Ends the session (best effort). */
  async close(): Promise<void> {
    const session = await this.session?.catch(() => undefined);
    this.session = undefined;
    if (session === undefined) return;
    await this.fetch(this.url, { method: 'DELETE', headers: { 'mcp-session-id': session, 'mcp-protocol-version': BATCH_PROTOCOL } }).catch(() => undefined);
  }

  private connect(signal: AbortSignal): Promise<string | undefined> {
    if (this.session) return this.session;
    const p = this.initialize(signal);
    this.session = p;
    p.catch(() => {
      if (this.session === p) this.session = undefined;
    });
    return p;
  }

  private async initialize(signal: AbortSignal): Promise<string | undefined> {
    const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: BATCH_PROTOCOL, capabilities: {}, clientInfo: { name: 'mcp-edge-queue', version: VERSION } } };
    const res = await this.post(init, undefined, signal);
    if (!res.ok) throw new Error(`${this.url}: initialize answered HTTP ${res.status}`);
    const [answer] = await readAnswers(res, `the answer of ${this.url} to initialize`);
    const result = answer?.result as { protocolVersion?: unknown } | undefined;
    if (!result) throw new Error(`${this.url}: initialize failed: ${String(answer?.error?.message ?? 'no answer')}`);
    // A server on a later revision has no batches: it says so by answering with its own version.
    if (result.protocolVersion !== BATCH_PROTOCOL) throw new BatchRefused(`${this.url} speaks MCP ${String(result.protocolVersion)}, which has no batches`);
    const session = res.headers.get('mcp-session-id') ?? undefined;
    const done = await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session, signal);
    await done.arrayBuffer();
    return session;
  }

  private post(body: unknown, session: string | undefined, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': BATCH_PROTOCOL };
    if (session !== undefined) headers['mcp-session-id'] = session;
    return this.fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) });
  }
}

/** The JSON-RPC answers in a response (at most MAX_MESSAGE_BYTES): a JSON body (one object or an array), or the data of SSE events. */
async function readAnswers(res: Response, what: string): Promise<RpcAnswer[]> {
  const text = await boundedText(res, what, MAX_MESSAGE_BYTES);
  if (text.trim() === '') return [];
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const parsed = JSON.parse(text) as RpcAnswer | RpcAnswer[];
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  const out: RpcAnswer[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data === '') continue;
    const parsed = JSON.parse(data) as RpcAnswer | RpcAnswer[];
    out.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  }
  return out;
}

function answerOf(a: RpcAnswer | undefined): BatchAnswer {
  if (!a) return new Error('the destination answered the batch without this call');
  if (a.error) {
    const code = typeof a.error.code === 'number' ? a.error.code : 0;
    const message = `the destination refused the call: ${String(a.error.message)} (${code})`;
    return isLinkFailure(code) ? new Error(message) : new DestinationError(message);
  }
  return a.result as CallToolResult;
}
