// The HTTP faces of the models: POST /v1/chat/completions (OpenAI-compatible,
// SSE with stream: true, so existing clients and SDKs work unchanged) and
// POST /v1/mcp/completions (the seed's endpoint; its JSON is in docs/inference.md).
// Every answer says which engine served it and why: the mcp_edge member of the
// JSON (of the last SSE chunk) and the x-mcp-edge-engine / -reason headers.
import { randomUUID } from '../crypto.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readJsonBody } from '../gateway/body.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { ModelError, type ChatMessage } from './engine.js';
import type { Principal } from '../security/principal.js';
import type { CompletionAnswer, CompletionRequest, ModelService } from './service.js';
import { chatCompletionBody, mcpCompletionBody, served, usageOf } from './shapes.js';
import type { QueuedCompletion } from './deferral.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  // A string, or the SDKs' array of text parts.
  content: z.union([z.string(), z.array(textPart)]),
});
const common = {
  max_tokens: z.number().int().min(1).optional(),
  max_completion_tokens: z.number().int().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
  seed: z.number().int().optional(),
  stream: z.boolean().optional(),
};
// OpenAI's other fields (model, top_p, user, ...) are accepted and ignored: the router picks the model.
const chatBody = z.object({ messages: z.array(message).min(1), ...common }).passthrough();
const mcpBody = z.object({ prompt: z.string().min(1).optional(), system: z.string().optional(), messages: z.array(message).min(1).optional(), ...common }).strict();

type Body = z.infer<typeof chatBody>;

export function chatCompletionsHandler(models: ModelService, maxBodyBytes: number) {
  return async (req: IncomingMessage, res: ServerResponse, principal: Principal | undefined): Promise<void> => {
    const body = await readBody(req, res, maxBodyBytes, chatBody);
    if (!body) return;
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const request = toRequest(body, body.messages.map(toMessage), res);
    const offline: Offline = { models, principal, queued: { shape: 'chat', ...queuedOf(request) } };
    if (!body.stream) return answer(res, offline, request, (a) => chatCompletionBody(a, id, created));
    let first = true;
    const stream = new SseWriter(res);
    request.onText = (text, by) => {
      stream.open(by.engine);
      stream.data({ id, object: 'chat.completion.chunk', created, model: by.model, choices: [{ index: 0, delta: first ? { role: 'assistant', content: text } : { content: text }, finish_reason: null }] });
      first = false;
    };
    await streamAnswer(stream, offline, request, (a) => ({ id, object: 'chat.completion.chunk', created, model: a.model, choices: [{ index: 0, delta: {}, finish_reason: a.finishReason }], usage: usageOf(a), mcp_edge: served(a) }));
  };
}

export function mcpCompletionsHandler(models: ModelService, maxBodyBytes: number) {
  return async (req: IncomingMessage, res: ServerResponse, principal: Principal | undefined): Promise<void> => {
    const body = await readBody(req, res, maxBodyBytes, mcpBody);
    if (!body) return;
    if ((body.prompt === undefined) === (body.messages === undefined)) return sendError(res, 400, 'bad_request', 'send either "prompt" (a string) or "messages" (a chat), not both and not neither');
    const messages: ChatMessage[] = body.messages ? body.messages.map(toMessage) : [...(body.system ? [{ role: 'system' as const, content: body.system }] : []), { role: 'user', content: body.prompt! }];
    const request = toRequest(body, messages, res);
    const offline: Offline = { models, principal, queued: { shape: 'mcp', ...queuedOf(request) } };
    if (!body.stream) return answer(res, offline, request, mcpCompletionBody);
    const stream = new SseWriter(res);
    request.onText = (text, by) => {
      stream.open(by.engine);
      stream.data({ text, engine: by.engine, model: by.model }, 'text');
    };
    await streamAnswer(stream, offline, request, mcpCompletionBody, 'done');
  };
}

/** The body checked against `schema`; undefined when an error answer was sent. */
async function readBody<T extends z.ZodType>(req: IncomingMessage, res: ServerResponse, limit: number, schema: T): Promise<z.infer<T> | undefined> {
  let raw: unknown;
  try {
    raw = await readJsonBody(req, limit);
  } catch (err) {
    if (!(err instanceof HttpRefusal)) throw err;
    sendError(res, err.status, 'bad_request', err.message, err.headers);
    return undefined;
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  sendError(res, 400, 'bad_request', `the request body is not valid: ${issues}`);
  return undefined;
}

function toMessage(m: z.infer<typeof message>): ChatMessage {
  const content = typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
  return { role: m.role === 'developer' ? 'system' : m.role, content };
}

/** The service request of a body; cancelled when the client goes away before the answer ends. */
function toRequest(body: Pick<Body, 'max_tokens' | 'max_completion_tokens' | 'temperature' | 'seed'>, messages: ChatMessage[], res: ServerResponse): CompletionRequest {
  const gone = new AbortController();
  res.once('close', () => { if (!res.writableFinished) gone.abort(); });
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  return { messages, signal: gone.signal, ...(maxTokens !== undefined ? { maxTokens } : {}), ...(body.temperature !== undefined ? { temperature: body.temperature } : {}), ...(body.seed !== undefined ? { seed: body.seed } : {}) };
}

/** What a refused request needs to become a queued one (offline.ts). */
interface Offline {
  models: ModelService;
  principal: Principal | undefined;
  queued: QueuedCompletion;
}

function queuedOf(r: CompletionRequest): Omit<QueuedCompletion, 'shape'> {
  return { messages: r.messages, ...(r.maxTokens !== undefined ? { maxTokens: r.maxTokens } : {}), ...(r.temperature !== undefined ? { temperature: r.temperature } : {}), ...(r.seed !== undefined ? { seed: r.seed } : {}) };
}

/**
 * Only the unreachable cloud could serve: with the offline queue, the request
 * becomes a task (202, its id and where to read the result) instead of a 503.
 */
async function deferOrRefuse(res: ServerResponse, offline: Offline, err: unknown): Promise<void> {
  const deferral = offline.models.deferral;
  if (!(err instanceof ModelError) || err.code !== 'cloud_offline' || !deferral) return sendModelError(res, err);
  let task: { taskId: string; resultUrl: string };
  try {
    task = await deferral.defer(offline.queued, offline.principal, err.retryAfterMs);
  } catch (queueErr) {
    // The queue refused it (full, too large, storage): the original refusal, saying why it was not queued.
    return sendModelError(res, new ModelError(err.code, `${err.message}; it could not be queued either: ${(queueErr as Error).message}`));
  }
  const text = JSON.stringify({ task_id: task.taskId, status: 'working', result_url: task.resultUrl, message: `${err.message.replace(/: retry when the link is back$/, '')}; queued as task ${task.taskId}: GET ${task.resultUrl} for its result` });
  res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), location: task.resultUrl });
  res.end(text);
}

async function answer(res: ServerResponse, offline: Offline, request: CompletionRequest, shape: (a: CompletionAnswer) => unknown): Promise<void> {
  let result: CompletionAnswer;
  try {
    result = await offline.models.generate(request);
  } catch (err) {
    return deferOrRefuse(res, offline, err);
  }
  const text = JSON.stringify(shape(result));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...servedHeaders(result) });
  res.end(text);
}

async function streamAnswer(stream: SseWriter, offline: Offline, request: CompletionRequest, last: (a: CompletionAnswer) => unknown, lastEvent?: string): Promise<void> {
  let result: CompletionAnswer;
  try {
    result = await offline.models.generate(request);
  } catch (err) {
    if (!stream.opened) return deferOrRefuse(stream.res, offline, err);
    // The answer had started: the error ends the stream, without [DONE].
    stream.data({ error: errorBody(err) }, lastEvent ? 'error' : undefined);
    return void stream.res.end();
  }
  stream.open(result.engine);
  stream.data(last(result), lastEvent);
  if (!lastEvent) stream.res.write('data: [DONE]\n\n');
  stream.res.end();
}

/** An SSE answer whose headers go out with its first event (they name the first engine). */
class SseWriter {
  opened = false;
  constructor(readonly res: ServerResponse) {}
  open(engine: string): void {
    if (this.opened) return;
    this.opened = true;
    this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-mcp-edge-engine': engine });
  }
  data(value: unknown, event?: string): void {
    this.res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(value)}\n\n`);
  }
}

function servedHeaders(a: CompletionAnswer): Record<string, string> {
  return { 'x-mcp-edge-engine': a.engine, 'x-mcp-edge-reason': a.reason };
}

function errorBody(err: unknown) {
  const code = err instanceof ModelError ? err.code : 'internal_error';
  return { message: (err as Error).message, type: code === 'bad_request' ? 'invalid_request_error' : 'model_unavailable', code };
}

function sendModelError(res: ServerResponse, err: unknown): void {
  if (!(err instanceof ModelError)) throw err;
  sendError(res, err.code === 'bad_request' ? 400 : 503, err.code, err.message);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const text = JSON.stringify({ error: { message, type: code === 'bad_request' ? 'invalid_request_error' : 'model_unavailable', code } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
