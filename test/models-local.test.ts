// The real SmolLM2-135M-Instruct (GGUF, node-llama-cpp's prebuilt CPU binary)
// behind the gateway's completions routes and the npm API. One gateway (so one
// model load) serves the file; one thread and a small context keep it quick on a
// shared 2-core machine.
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { startGateway } from './helpers/gateway.js';
import { baseOf, LOCAL_MODEL, postJson, postSse } from './helpers/models.js';

const QUESTION = 'What is the capital of France?';
// Greedy sampling and a fixed seed: the same answer on every run.
const GREEDY = { temperature: 0, seed: 1, max_tokens: 12 };

let shared: Promise<Gateway> | undefined;
/** The file's gateway with the test model, [models] max_tokens = 12. */
const localGateway = (): Promise<Gateway> => (shared ??= startGateway({ models: { ...LOCAL_MODEL, max_tokens: 12 } }));

describe('local model', () => {
  it('answers a question with a known answer over /v1/chat/completions, streamed in several SSE chunks', async () => {
    const gateway = await localGateway();
    expect(gateway.models.status().local?.loaded).toBe(false); // lazily: nothing loaded at start
    const { status, headers, events } = await postSse(`${baseOf(gateway.url)}/v1/chat/completions`, { model: 'any', messages: [{ role: 'user', content: QUESTION }], stream: true, ...GREEDY });
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('text/event-stream');
    expect(headers.get('x-mcp-edge-engine')).toBe('local');
    expect(events.at(-1)!.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const pieces = chunks.map((c) => c.choices[0].delta.content).filter((t): t is string => typeof t === 'string');
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(pieces.join('')).toMatch(/Paris/);
    const last = chunks.at(-1);
    expect(last.choices[0].finish_reason).toMatch(/^(stop|length)$/);
    expect(last.mcp_edge).toMatchObject({ engine: 'local', model: 'SmolLM2-135M-Instruct.Q4_1', reason: 'local_first', fallbacks: [] });
    expect(last.usage.prompt_tokens).toBeGreaterThan(5);
    expect(last.usage.completion_tokens).toBe(pieces.length > 0 ? last.usage.completion_tokens : 0);
    expect(gateway.models.status().local?.loaded).toBe(true);
    expect(gateway.models.status().local?.memory_bytes).toBeGreaterThan(50 * 1024 * 1024);
  }, 60_000);

  it('answers an OpenAI SDK-shaped request unchanged (content parts, max_completion_tokens, extra fields)', async () => {
    const gateway = await localGateway();
    const { status, json } = await postJson(`${baseOf(gateway.url)}/v1/chat/completions`, {
      model: 'gpt-4o-mini',
      // (A system/developer message changes what the 135M model answers; the role mapping is the same code path.)
      messages: [{ role: 'user', content: [{ type: 'text', text: QUESTION }] }],
      max_completion_tokens: 12,
      temperature: 0,
      seed: 1,
      top_p: 1,
      user: 'sdk-test',
    });
    expect(status).toBe(200);
    expect(json).toMatchObject({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant' } }], mcp_edge: { engine: 'local' } });
    expect(json.id).toMatch(/^chatcmpl-/);
    expect(json.choices[0].message.content).toMatch(/Paris/);
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + json.usage.completion_tokens);
  }, 60_000);

  it('serves /v1/mcp/completions (prompt form, and streamed text events) and gateway.models.generate', async () => {
    const gateway = await localGateway();
    const base = baseOf(gateway.url);
    const plain = await postJson(`${base}/v1/mcp/completions`, { prompt: QUESTION, temperature: 0, seed: 1, max_tokens: 100 });
    expect(plain.status).toBe(200);
    expect(plain.json).toMatchObject({ engine: 'local', reason: 'local_first', fallbacks: [] });
    expect(plain.json.text).toMatch(/Paris/);
    expect(plain.json.usage.completion_tokens).toBeLessThanOrEqual(12); // [models] max_tokens caps the request's 100
    const streamed = await postSse(`${base}/v1/mcp/completions`, { prompt: QUESTION, stream: true, ...GREEDY });
    const texts = streamed.events.filter((e) => e.event === 'text').map((e) => JSON.parse(e.data).text as string);
    expect(texts.length).toBeGreaterThanOrEqual(3);
    expect(texts.join('')).toBe(plain.json.text); // greedy: the same answer
    expect(streamed.events.at(-1)!.event).toBe('done');
    const pieces: string[] = [];
    const answer = await gateway.models.generate({ messages: [{ role: 'user', content: QUESTION }], temperature: 0, seed: 1, onText: (t) => pieces.push(t) });
    expect(answer).toMatchObject({ engine: 'local', reason: 'local_first', text: plain.json.text });
    expect(pieces.join('')).toBe(answer.text);
  }, 60_000);

  it('refuses a model that does not fit in max_memory_mb, with no cloud to fall back to', async () => {
    const gateway = await startGateway({ models: { ...LOCAL_MODEL, max_memory_mb: 20 } });
    const { status, json } = await postJson(`${baseOf(gateway.url)}/v1/chat/completions`, { messages: [{ role: 'user', content: QUESTION }], ...GREEDY });
    expect(status).toBe(503);
    expect(json.error.code).toBe('no_engine');
    expect(json.error.message).toMatch(/max_memory_mb = 20/);
    expect(gateway.models.status().local?.loaded).toBe(false);
  }, 60_000);

  it('says the prompt is longer than the local context (exact token count) when no cloud can take it', async () => {
    const gateway = await localGateway();
    const long = 'word '.repeat(LOCAL_MODEL.context_size + 50);
    const { status, json } = await postJson(`${baseOf(gateway.url)}/v1/chat/completions`, { messages: [{ role: 'user', content: long }], ...GREEDY });
    expect(status).toBe(503);
    expect(json.error.message).toMatch(/the prompt takes \d+ tokens, more than the local model's context of 512/);
  }, 60_000);

  it('answers bad input and a gateway without models with clear errors', async () => {
    const gateway = await startGateway({});
    const base = baseOf(gateway.url);
    const bad = await postJson(`${base}/v1/chat/completions`, { messages: [] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ type: 'invalid_request_error', code: 'bad_request' });
    expect(bad.json.error.message).toMatch(/messages/);
    const both = await postJson(`${base}/v1/mcp/completions`, { prompt: 'hi', messages: [{ role: 'user', content: 'hi' }] });
    expect(both.status).toBe(400);
    const none = await postJson(`${base}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] });
    expect(none.status).toBe(503);
    expect(none.json.error.message).toMatch(/no model is configured/);
  });
});
