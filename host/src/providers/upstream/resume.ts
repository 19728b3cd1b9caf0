// Resumes an upstream's answer stream that ends before the answer.
//
// Protocol 2025-11-25 (SEP-1699) lets a server close the SSE stream of a POST
// mid-call once it has sent an event with an id (a "priming" event), and tell
// the client when to come back (`retry`); the client resumes with a GET that
// carries Last-Event-ID. The SDK's client transport (1.32) resumes only the
// simple case, and when resuming fails it reports to `onerror` alone, so the
// call waits for its time limit:
//   - a stream closed before any event id: nothing happens at all;
//   - a resumed stream closed again before a new event id: it reconnects
//     without Last-Event-ID, which opens the session's GET stream instead,
//     and the answer never comes;
//   - a refused or failing resume: two retries, then only `onerror`.
// So the gateway resumes in its fetch instead: the SDK sees one stream that
// goes on until every request of the POST is answered. Event ids and `retry`
// are kept here and left out of what the SDK reads, so it never tries on its
// own. When resuming is impossible, the stream ends with a JSON-RPC error for
// each request still unanswered, naming the upstream and what went wrong: the
// call fails at once instead of at its time limit.
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { CONNECTION_CLOSED, INTERNAL_ERROR, REQUEST_TIMEOUT } from '../../protocol/jsonrpc.js';
import { SseParser, sseFrame, type SseEvent } from '../../protocol/sse.js';

export interface ResumeOptions {
  /** The upstream's id, named in errors. */
  upstream: string;
  /** Resuming gives up once no event has come for this long (the upstream's timeout_ms). */
  timeoutMs: number;
  /** Where one line per resume or failure goes (the upstream's debug log). */
  note?: (line: string) => void;
}

/** The wait before a resume when the upstream sent no `retry` field, in ms. */
const DEFAULT_RETRY_MS = 1000;
/** Longest wait before one attempt, however large the upstream's `retry` (or the backoff) grows. */
const MAX_WAIT_MS = 30_000;
/** Consecutive failed attempts (unreachable, 408, 429, 5xx) before the call fails. */
export const MAX_RESUME_FAILURES = 5;

interface Failure {
  code: number;
  message: string;
}

/** One attempt to resume that did not give a stream: `fatal` when trying again cannot help. */
interface Refusal {
  fatal: boolean;
  why: string;
}

/** Wraps `inner` so that the event-stream answer of a POST carrying requests is resumed when it ends early. */
export function resumingFetch(inner: FetchLike, options: ResumeOptions): FetchLike {
  return async (url, init) => {
    const response = await inner(url, init);
    if (init?.method !== 'POST' || !response.ok || !response.body || !isEventStream(response)) return response;
    const requests = requestsIn(init.body);
    if (requests.size === 0) return response;
    const call = new ResumedCall(inner, url, init, requests, options);
    return new Response(streamOf(call.frames(response.body)), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/**
 * One POST's answer stream and its resumes. The SDK path reads it as SSE text
 * (`frames`); the lean transport (lean-http.ts) reads the first stream itself,
 * feeds its text here (`feed`), and asks for the rest (`resume`) only when the
 * stream ends before every request is answered.
 */
export class ResumedCall {
  private lastEventId: string | undefined;
  private retryMs: number | undefined;
  /** When the last event with content came: the time limit counts from it. */
  private lastActivity = Date.now();
  private readonly out: SseEvent[] = [];
  private readonly parser = new SseParser({
    event: (event) => this.onEvent(event),
    id: (id) => (this.lastEventId = id === '' ? undefined : id),
    retry: (ms) => (this.retryMs = ms),
  });

  constructor(
    private readonly fetch: FetchLike,
    private readonly url: string | URL,
    private readonly init: RequestInit,
    /** Requests of the POST not answered yet: id -> method. */
    private readonly pending: Map<RequestId, string>,
    private readonly options: ResumeOptions,
    /** Whether the reader parses each message and says which answered (`answer`), so the text is parsed once. */
    private readonly readerSettles = false,
  ) {}

  /** A response to one of the POST's requests has come (when the reader settles). */
  answer(id: RequestId): void {
    this.pending.delete(id);
  }

  /** Whether every request of the POST has its answer. */
  get answered(): boolean {
    return this.pending.size === 0;
  }

  /** The SSE text the SDK reads: the upstream's events, across resumes, without ids. */
  async *frames(first: ReadableStream<Uint8Array>): AsyncGenerator<string> {
    try {
      const ended: string | Failure = yield* textOf(this.relay(first));
      if (this.pending.size === 0) return;
      yield* textOf(typeof ended === 'string' ? this.resume(ended) : this.failed(ended));
    } catch (err) {
      yield* textOf(this.failed({ code: INTERNAL_ERROR, message: `mcp-edge could not read the answer of upstream "${this.options.upstream}": ${(err as Error).message}` }));
    }
  }

  /** Parses the next text of the first stream: the events it completes, or the failure that ends the call. */
  feed(text: string): SseEvent[] {
    try {
      this.parser.push(text);
    } catch (err) {
      return this.fail({ code: INTERNAL_ERROR, message: `upstream "${this.options.upstream}" sent an answer mcp-edge cannot read: ${(err as Error).message}` });
    }
    return this.out.splice(0);
  }

  /** After the stream ended (`ended` says how) before every answer: the events of the resumed streams, then an error for each request still unanswered. */
  async *resume(ended: string): AsyncGenerator<SseEvent[]> {
    try {
      let next: ReadableStream<Uint8Array> | Failure | undefined = await this.reopen(ended);
      while (next instanceof ReadableStream) {
        const how: string | Failure = yield* this.relay(next);
        if (this.pending.size === 0) return;
        next = typeof how === 'string' ? await this.reopen(how) : how;
      }
      if (next !== undefined) yield this.fail(next);
    } catch (err) {
      yield this.fail({ code: INTERNAL_ERROR, message: `mcp-edge could not read the answer of upstream "${this.options.upstream}": ${(err as Error).message}` });
    }
  }

  private async *failed(failure: Failure): AsyncGenerator<SseEvent[]> {
    yield this.fail(failure);
  }

  /** Passes one stream's events on; says how it ended ("closed the stream"...), or a failure it cannot be resumed from. */
  private async *relay(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent[], string | Failure> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          return `dropped the connection (${reasonOf(err)})`;
        }
        if (chunk.done) return 'closed the stream';
        try {
          this.parser.push(decoder.decode(chunk.value, { stream: true }));
        } catch (err) {
          return { code: INTERNAL_ERROR, message: `upstream "${this.options.upstream}" sent an answer mcp-edge cannot read: ${(err as Error).message}` };
        }
        if (this.out.length > 0) yield this.out.splice(0);
        if (this.pending.size === 0) return 'answered';
      }
    } finally {
      // Stops reading a stream left early (answered, or the SDK let go), which frees its connection.
      reader.cancel().catch(() => undefined);
    }
  }

  private onEvent(event: SseEvent): void {
    if (event.data === '') return; // a priming event: an id for resuming, nothing for the SDK
    this.lastActivity = Date.now();
    if (event.event === 'message' && !this.readerSettles) this.settle(event.data);
    this.out.push(event);
  }

  /** Notes the responses among a message's data. */
  private settle(data: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return; // the SDK reports it
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (isObject(message) && !('method' in message) && ('result' in message || 'error' in message) && isId(message.id)) {
        this.pending.delete(message.id);
      }
    }
  }

  /** A new stream that continues after the last event id, a failure, or undefined when the transport closed meanwhile. */
  private async reopen(ended: string): Promise<ReadableStream<Uint8Array> | Failure | undefined> {
    if (this.init.signal?.aborted) return undefined; // the transport closed: nobody waits for the answer
    const what = `upstream "${this.options.upstream}" ${ended} before answering ${[...new Set(this.pending.values())].join(', ')}`;
    if (this.lastEventId === undefined) {
      return {
        code: INTERNAL_ERROR,
        message: `${what}, and had sent no event id to resume it from (a server that ends a stream early must send one first: SEP-1699). Retry the call; if this recurs, the upstream is dropping its streams`,
      };
    }
    let failures = 0;
    let last = '';
    for (;;) {
      const wait = Math.min((this.retryMs ?? DEFAULT_RETRY_MS) * 2 ** failures, MAX_WAIT_MS);
      if (Date.now() + wait - this.lastActivity > this.options.timeoutMs) {
        const lastTry = last ? `; the last attempt: ${last}` : '';
        return { code: REQUEST_TIMEOUT, message: `${what}, and resuming it brought no answer within its timeout_ms (${this.options.timeoutMs} ms)${lastTry}` };
      }
      if (!(await pause(wait, this.init.signal))) return undefined;
      const attempt = await this.attempt();
      if (!attempt || attempt instanceof ReadableStream) return attempt;
      if (attempt.fatal) return { code: INTERNAL_ERROR, message: `${what}, and refused to resume it from event ${this.lastEventId}: ${attempt.why}` };
      last = attempt.why;
      failures += 1;
      if (failures >= MAX_RESUME_FAILURES) {
        return { code: CONNECTION_CLOSED, message: `${what}, and ${failures} attempts to resume it failed; the last: ${last}` };
      }
    }
  }

  /** One GET with Last-Event-ID. */
  private async attempt(): Promise<ReadableStream<Uint8Array> | Refusal | undefined> {
    const headers = new Headers(this.init.headers);
    headers.delete('content-type');
    headers.set('accept', 'text/event-stream');
    headers.set('last-event-id', this.lastEventId ?? '');
    let response: Response;
    try {
      response = await this.fetch(this.url, { method: 'GET', headers, redirect: 'manual', ...(this.init.signal ? { signal: this.init.signal } : {}) });
    } catch (err) {
      if (this.init.signal?.aborted) return undefined;
      return { fatal: false, why: `the upstream could not be reached (${reasonOf(err)})` };
    }
    if (response.ok && response.body && isEventStream(response)) {
      this.options.note?.(`resuming the answer stream from event ${this.lastEventId}`);
      return response.body;
    }
    const detail = await errorDetail(response);
    const status = `HTTP ${response.status}${detail ? ` (${detail})` : ''}`;
    if (response.ok) return { fatal: true, why: `${status}, not an event stream` };
    const transient = response.status === 408 || response.status === 429 || response.status >= 500;
    return { fatal: !transient, why: status };
  }

  /** An error response for every request still unanswered; each call fails with it. */
  private fail(failure: Failure): SseEvent[] {
    this.options.note?.(failure.message);
    const ids = [...this.pending.keys()];
    this.pending.clear();
    // The upstream may still be working on them: say they are given up (a dropped stream alone is no cancellation).
    if (failure.code !== CONNECTION_CLOSED) void this.cancel(ids, failure.message);
    return ids.map((id) => ({ event: 'message', data: JSON.stringify({ jsonrpc: '2.0', id, error: { code: failure.code, message: failure.message } }) }));
  }

  /** Sends notifications/cancelled for `ids`, best effort. */
  private async cancel(ids: RequestId[], reason: string): Promise<void> {
    const headers = new Headers(this.init.headers);
    headers.set('content-type', 'application/json');
    const notices = ids.map((requestId) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: reason.slice(0, 300) } }));
    try {
      const init: RequestInit = { method: 'POST', headers, body: JSON.stringify(notices.length === 1 ? notices[0] : notices) };
      const response = await this.fetch(this.url, this.init.signal ? { ...init, signal: this.init.signal } : init);
      await response.body?.cancel();
    } catch {
      // The upstream is gone or the transport closed: nothing left to cancel.
    }
  }
}

/** Batches of events written back as SSE text, without ids. */
async function* textOf<R>(batches: AsyncGenerator<SseEvent[], R>): AsyncGenerator<string, R> {
  try {
    for (;;) {
      const next = await batches.next();
      if (next.done) return next.value;
      if (next.value.length > 0) yield next.value.map(sseFrame).join('');
    }
  } finally {
    // A reader that lets go early ends the inner generator too, which frees its stream.
    await batches.return(undefined as R);
  }
}

/** A byte stream of the generator's text; cancelling it ends the generator (its `finally` lets go of the upstream). */
function streamOf(frames: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await frames.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await frames.return(undefined);
    },
  });
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is RequestId => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

function isEventStream(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase() === 'text/event-stream';
}

/** The requests in a POST body (the SDK sends a JSON string): id -> method. */
function requestsIn(body: RequestInit['body']): Map<RequestId, string> {
  const found = new Map<RequestId, string>();
  if (typeof body !== 'string') return found;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return found;
  }
  return requestsOf(parsed);
}

/** The requests among messages about to be sent: id -> method. */
export function requestsOf(messages: unknown): Map<RequestId, string> {
  const found = new Map<RequestId, string>();
  for (const message of Array.isArray(messages) ? messages : [messages]) {
    if (isObject(message) && typeof message.method === 'string' && isId(message.id)) found.set(message.id, message.method);
  }
  return found;
}

/** Waits `ms`; false when `signal` aborted first. */
function pause(ms: number, signal: AbortSignal | null | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The most telling part of a fetch error: undici hides the socket error in `cause`. */
function reasonOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

/** What a refusing upstream said: its JSON-RPC error message, or the start of its body. */
async function errorDetail(response: Response): Promise<string> {
  const text = await boundedText(response, 2048);
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not JSON: the text itself
  }
  return text.trim().slice(0, 300);
}

/** Up to `limit` bytes of a body, then lets go of the rest. */
async function boundedText(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // a body cut short still says something
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
