// The cloud engine: any OpenAI-compatible chat completions endpoint (a peer
// mcp-edge serving its own model included), streamed over SSE. A 429 or a 5xx
// before the answer starts is retried with backoff (a 429's or 503's
// Retry-After is honoured, up to a cap, and handed on in the error when the
// engine gives up); a connection that does not answer in time, or a
// stream that stops before its end, is a typed failure the router acts on.
import { boundedText } from '../protocol/bounded-body.js';
import { MAX_MESSAGE_BYTES } from '../protocol/message-size.js';
import { SseParser } from '../protocol/sse.js';
import { ModelError, type CloudEngine, type EngineResult, type FinishReason, type GenerateRequest, type OnText } from './engine.js';

export interface CloudEngineOptions {
  /** The API's base URL (e.g. https://api.openai.com/v1, or a peer's http://host:port/v1); /chat/completions is appended. */
  endpoint: string;
  apiKey?: string;
  /** The model name sent to the endpoint. */
  model?: string;
  /** Longest wait for the response headers, and between two chunks of the stream. */
  timeoutMs?: number;
  /** Attempts in all, the first included. */
  maxAttempts?: number;
  /** First backoff; doubles each retry. */
  backoffMs?: number;
  /** Longest Retry-After honoured; a longer one fails the request instead of holding it. */
  maxRetryAfterMs?: number;
}

const DEFAULTS = { timeoutMs: 30_000, maxAttempts: 3, backoffMs: 250, maxRetryAfterMs: 10_000 };

/** How much of a refusal's body is read: its start goes into the error message. */
const ERROR_BODY_BYTES = 4096;

/** A Retry-After header's wait in ms (delay-seconds or an HTTP date, RFC 9110 10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  // Whole seconds by the RFC; a fraction (some servers send one) is read as meant.
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its day and month; Date.parse alone would take "-5" for a year.
  const at = /[a-z]/i.test(text) ? Date.parse(text) : NaN;
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** The completions URL of a base URL (which may already name it). */
export function completionsUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/chat/completions') ? base : `${base}/chat/completions`;
}

export class OpenAiCloudEngine implements CloudEngine {
  readonly kind = 'cloud' as const;
  readonly model: string;
  private readonly url: string;
  private readonly settings: typeof DEFAULTS;

  constructor(private readonly options: CloudEngineOptions) {
    this.url = completionsUrl(options.endpoint);
    this.model = options.model ?? 'default';
    this.settings = { ...DEFAULTS, ...definedOnly(options) };
  }

  async generate(request: GenerateRequest, onText: OnText): Promise<EngineResult> {
    for (let attempt = 1; ; attempt += 1) {
      const { response, body } = await this.post(request);
      if (response.ok) return { ...(await this.readStream(response, request, onText)), attempts: attempt };
      const retryable = response.status === 429 || response.status >= 500;
      const asked = response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get('retry-after'), Date.now()) : undefined;
      const wait = retryable ? this.retryDelay(asked, attempt) : undefined;
      if (wait === undefined || attempt >= this.settings.maxAttempts || request.singleAttempt) {
        const code = retryable ? 'cloud_unreachable' : 'cloud_refused';
        const says = asked !== undefined ? `, asking to wait ${Math.round(asked)} ms` : '';
        throw new ModelError(code, `the cloud endpoint ${this.url} answered ${response.status} after ${attempt} attempt(s)${says}: ${body.slice(0, 300)}`, asked);
      }
      await sleep(wait, request.signal);
    }
  }

  /** How long to wait before the next attempt; undefined when the server asks for longer than the cap. */
  private retryDelay(asked: number | undefined, attempt: number): number | undefined {
    if (asked === undefined) return this.settings.backoffMs * 2 ** (attempt - 1);
    return asked > this.settings.maxRetryAfterMs ? undefined : asked;
  }

  /** The response (its stream unread), or a refusal with the start of its body, read within the deadline. */
  private async post(request: GenerateRequest): Promise<{ response: Response; body: string }> {
    const messages = request.prefix ? [...request.messages, { role: 'assistant', content: request.prefix }] : request.messages;
    const body = { model: this.model, messages, max_tokens: request.maxTokens, temperature: request.temperature, stream: true, ...(request.seed !== undefined ? { seed: request.seed } : {}), ...(request.stop?.length ? { stop: request.stop } : {}) };
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    // The deadline covers the response headers only; the stream has its own per-chunk deadline (nextChunk).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.settings.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, deadline.signal]) : deadline.signal;
    let response: Response;
    try {
      response = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal });
    } catch (err) {
      clearTimeout(timer);
      if (deadline.signal.aborted) throw new ModelError('cloud_timeout', `the cloud endpoint ${this.url} did not answer within ${this.settings.timeoutMs} ms`);
      throw new ModelError('cloud_unreachable', `the cloud endpoint ${this.url} is unreachable: ${causeOf(err)}`);
    }
    if (response.ok) {
      clearTimeout(timer);
      return { response, body: '' };
    }
    // A refusal's body under the same deadline: one that never ends, or never comes, is cut there.
    const text = await boundedText(response, 'the refusal', ERROR_BODY_BYTES, true).catch(() => '');
    clearTimeout(timer);
    return { response, body: text };
  }

  /** Reads the SSE stream to its [DONE]; a stream that ends or stalls before it is cloud_stream_broken. */
  private async readStream(response: Response, request: GenerateRequest, onText: OnText): Promise<Omit<EngineResult, 'attempts'>> {
    if (!response.body) throw new ModelError('cloud_stream_broken', `the cloud endpoint ${this.url} sent no body`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const events: string[] = [];
    const parser = new SseParser({ event: (e) => void events.push(e.data), id: () => undefined, retry: () => undefined });
    let text = '';
    let finishReason: FinishReason | undefined;
    let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
    let pieces = 0;
    for (;;) {
      const chunk = await this.nextChunk(reader, request.signal, text);
      if (chunk === undefined) throw new ModelError('cloud_stream_broken', `the cloud endpoint ${this.url} closed the stream before its end, after ${text.length} characters`);
      try {
        // Bounded as every message from another process (message-size.ts): one event, and the answer in all.
        parser.push(chunk);
        if (text.length > MAX_MESSAGE_BYTES) throw new Error(`the answer exceeds ${MAX_MESSAGE_BYTES} characters`);
      } catch (err) {
        await reader.cancel().catch(() => undefined);
        throw new ModelError('cloud_stream_broken', `the cloud endpoint ${this.url} sent too much: ${(err as Error).message}; the stream was closed`);
      }
      for (const data of events.splice(0)) {
        if (data === '[DONE]') {
          await reader.cancel().catch(() => undefined);
          return { text, finishReason: finishReason ?? 'stop', promptTokens: usage?.prompt_tokens ?? 0, completionTokens: usage?.completion_tokens ?? pieces };
        }
        const parsed = parseChunk(data, this.url);
        if (parsed.content) {
          text += parsed.content;
          pieces += 1;
          onText(parsed.content);
        }
        finishReason = parsed.finishReason ?? finishReason;
        usage = parsed.usage ?? usage;
      }
    }
  }

  private async nextChunk(reader: ReadableStreamDefaultReader<string>, signal: AbortSignal | undefined, sofar: string): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ModelError('cloud_stream_broken', `the cloud endpoint ${this.url} sent nothing for ${this.settings.timeoutMs} ms, after ${sofar.length} characters`)), this.settings.timeoutMs);
    });
    try {
      if (signal?.aborted) throw new ModelError('generation_failed', 'the request was cancelled');
      const { value, done } = await Promise.race([reader.read(), stalled]);
      return done ? undefined : value;
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      if (err instanceof ModelError) throw err;
      throw new ModelError('cloud_stream_broken', `the stream from ${this.url} broke off before its end, after ${sofar.length} characters: ${causeOf(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

interface ParsedChunk {
  content?: string;
  finishReason?: FinishReason;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

/** One chat.completion.chunk; an error object in the stream is a refusal. */
function parseChunk(data: string, url: string): ParsedChunk {
  let json: { choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[]; usage?: ParsedChunk['usage']; error?: { message?: string } };
  try {
    json = JSON.parse(data) as typeof json;
  } catch {
    throw new ModelError('cloud_stream_broken', `the cloud endpoint ${url} sent an event that is not JSON: ${data.slice(0, 120)}`);
  }
  if (json.error) throw new ModelError('cloud_refused', `the cloud endpoint ${url} sent an error: ${json.error.message ?? JSON.stringify(json.error)}`);
  const choice = json.choices?.[0];
  const content = typeof choice?.delta?.content === 'string' ? choice.delta.content : undefined;
  const finish = choice?.finish_reason === 'length' ? 'length' : choice?.finish_reason === 'stop' ? 'stop' : undefined;
  return { ...(content ? { content } : {}), ...(finish ? { finishReason: finish } : {}), ...(json.usage ? { usage: json.usage } : {}) };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function causeOf(err: unknown): string {
  const e = err as Error & { cause?: { message?: string; code?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new ModelError('generation_failed', 'the request was cancelled'));
    }, { once: true });
  });
}
