// The cloud engine against a scripted OpenAI-compatible server on 127.0.0.1
// (429 with Retry-After, 500, refusals, a slow answer, a dropped stream) and
// against a second mcp-edge serving the real test model; the fallback both
// ways with the real local model. Every answer names its engine and reason.
import { describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { freePort, startGateway } from './helpers/gateway.js';
import { baseOf, LOCAL_MODEL, postJson, postSse, ScriptedCloud } from './helpers/models.js';

const QUESTION = 'What is the capital of France?';
const ASK = { messages: [{ role: 'user', content: QUESTION }], temperature: 0, seed: 1, max_tokens: 12 };
const PIECES = ['The', ' capital', ' is', ' Paris', '.'];

/** A gateway whose only engine is the scripted cloud. */
async function cloudOnly(cloud: ScriptedCloud, models: Record<string, unknown> = {}) {
  const endpoint = await cloud.start();
  const gateway = await startGateway({ models: { cloud_endpoint: endpoint, cloud_api_key: 'sk-scripted', cloud_model: 'big-model', ...models } });
  return baseOf(gateway.url);
}

describe('cloud engine (scripted OpenAI-compatible server)', () => {
  it('streams the cloud answer through /v1/chat/completions, with the configured model, key and max tokens', async () => {
    const cloud = new ScriptedCloud([{ kind: 'answer', pieces: PIECES }]);
    const base = await cloudOnly(cloud);
    const { status, headers, events } = await postSse(`${base}/v1/chat/completions`, { ...ASK, stream: true });
    expect(status).toBe(200);
    expect(headers.get('x-mcp-edge-engine')).toBe('cloud');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(chunks.map((c) => c.choices[0].delta.content).filter(Boolean)).toEqual(PIECES);
    expect(chunks.at(-1).mcp_edge).toMatchObject({ engine: 'cloud', model: 'big-model', reason: 'no_local_model', fallbacks: [] });
    expect(cloud.requests).toHaveLength(1);
    expect(cloud.requests[0]!.body).toMatchObject({ model: 'big-model', stream: true, max_tokens: 12, messages: [{ role: 'user', content: QUESTION }] });
    expect(cloud.requests[0]!.authorization).toBe('Bearer sk-scripted');
  });

  it('retries a 429 after its Retry-After, and a 500 after a backoff', async () => {
    const cloud = new ScriptedCloud([{ kind: 'status', status: 429, retryAfter: '0.3' }, { kind: 'status', status: 500 }, { kind: 'answer', pieces: PIECES }]);
    const base = await cloudOnly(cloud);
    const { status, json } = await postJson(`${base}/v1/mcp/completions`, { prompt: QUESTION });
    expect(status).toBe(200);
    expect(json).toMatchObject({ text: PIECES.join(''), engine: 'cloud', fallbacks: [] });
    expect(cloud.requests).toHaveLength(3);
    // The second attempt did not come before the 300 ms the server asked for.
    expect(cloud.requests[1]!.at - cloud.requests[0]!.at).toBeGreaterThanOrEqual(295);
  });

  it('gives up after the last attempt on 5xx and says so; a 4xx and a Retry-After beyond the cap are not retried', async () => {
    const failing = new ScriptedCloud([{ kind: 'status', status: 503 }]);
    const fails = await postJson(`${await cloudOnly(failing)}/v1/chat/completions`, ASK);
    // Only the cloud could serve: the request waits in the offline queue (test/models-offline.test.ts), whose
    // delivery asks the cloud again from then on, so only the first three requests are this answer's.
    expect(fails.status).toBe(202);
    expect(fails.json.message).toMatch(/answered 503 after 3 attempt\(s\).*queued as task/);
    expect(failing.requests.length).toBeGreaterThanOrEqual(3);

    const refusing = new ScriptedCloud([{ kind: 'status', status: 401, body: '{"error":{"message":"bad key"}}' }]);
    const refused = await postJson(`${await cloudOnly(refusing)}/v1/chat/completions`, ASK);
    expect(refused.status).toBe(503);
    expect(refused.json.error).toMatchObject({ code: 'no_engine' });
    expect(refused.json.error.message).toMatch(/answered 401 after 1 attempt\(s\): .*bad key/);
    expect(refusing.requests).toHaveLength(1);

    const patient = new ScriptedCloud([{ kind: 'status', status: 429, retryAfter: '3600' }]);
    const held = await postJson(`${await cloudOnly(patient)}/v1/chat/completions`, ASK);
    expect(held.status).toBe(202); // queued, as above
    expect(held.json.message).toMatch(/429 after 1 attempt\(s\)/);
  });

  it('reports a stream that ends before [DONE] as broken, not as an answer', async () => {
    const cloud = new ScriptedCloud([{ kind: 'drop', pieces: ['The', ' capital'] }]);
    const { status, events } = await postSse(`${await cloudOnly(cloud)}/v1/chat/completions`, { ...ASK, stream: true });
    expect(status).toBe(200); // the answer had started
    const last = JSON.parse(events.at(-1)!.data);
    expect(last.error.code).toBe('no_engine');
    expect(last.error.message).toMatch(/before its end, after 11 characters/) // 'The capital';
    expect(events.some((e) => e.data === '[DONE]')).toBe(false);
  });
});

describe('fallback between the real local model and the cloud', () => {
  it('local misses fallback_threshold_ms, the cloud drops mid-stream, the local model finishes the answer', async () => {
    const cloud = new ScriptedCloud([{ kind: 'drop', pieces: ['The capital of France'] }]);
    const endpoint = await cloud.start();
    // A 1 ms threshold: no CPU evaluates the prompt that fast, so the local attempt always misses it.
    const gateway = await startGateway({ models: { ...LOCAL_MODEL, cloud_endpoint: endpoint, fallback_threshold_ms: 1 } });
    const streamed: { text: string; engine: string }[] = [];
    const answer = await gateway.models.generate({ messages: [{ role: 'user', content: QUESTION }], maxTokens: 12, onText: (text, by) => streamed.push({ text, engine: by.engine }) });
    expect(answer).toMatchObject({ engine: 'local', reason: 'cloud_stream_broken' });
    expect(answer.fallbacks.map((f) => [f.engine, f.failure])).toEqual([['local', 'slow_first_token'], ['cloud', 'stream_broken']]);
    expect(streamed[0]).toEqual({ text: 'The capital of France', engine: 'cloud' });
    expect(streamed.slice(1).every((s) => s.engine === 'local')).toBe(true);
    expect(answer.text.startsWith('The capital of France')).toBe(true);
    expect(answer.text).toMatch(/Paris/); // the local model continued the cloud's words
  }, 30_000);

  it('an unreachable cloud leaves the answer to the local model, and the next request goes local for the link being down', async () => {
    const closedPort = await freePort();
    const gateway = await startGateway({ models: { ...LOCAL_MODEL, max_tokens: 12, cloud_endpoint: `http://127.0.0.1:${closedPort}/v1`, fallback_threshold_ms: 1 } });
    const base = baseOf(gateway.url);
    const first = await postJson(`${base}/v1/mcp/completions`, { prompt: QUESTION, temperature: 0 });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ engine: 'local', reason: 'cloud_unreachable' });
    expect(first.json.fallbacks.map((f: { failure: string }) => f.failure)).toEqual(['slow_first_token', 'unreachable']);
    expect(first.json.fallbacks[1].message).toMatch(/ECONNREFUSED/);
    expect(first.json.text).toMatch(/Paris/);
    const second = await postJson(`${base}/v1/mcp/completions`, { prompt: QUESTION, temperature: 0 });
    expect(second.json).toMatchObject({ engine: 'local', reason: 'link_down', fallbacks: [] });
    expect(second.headers.get('x-mcp-edge-reason')).toBe('link_down');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('mcp_edge_model_answers_total{engine="local",reason="cloud_unreachable"} 1');
    expect(metrics).toContain('mcp_edge_model_answers_total{engine="local",reason="link_down"} 1');
    expect(metrics).toContain('mcp_edge_model_fallbacks_total{engine="cloud",failure="unreachable"} 1');
    expect(metrics).toContain('mcp_edge_model_fallbacks_total{engine="local",failure="slow_first_token"} 1');
    expect(metrics).toContain('mcp_edge_model_failures_total 0');
    expect(metrics).toMatch(/mcp_edge_model_first_token_seconds_count\{engine="local"\} 2/);
    expect(Number(/^mcp_edge_model_local_tokens_per_second (\S+)$/m.exec(metrics)![1])).toBeGreaterThan(0);
    // A prompt only the cloud could take (longer than the local context) waits for the link as a task.
    const long = await postJson(`${base}/v1/mcp/completions`, { prompt: 'word '.repeat(LOCAL_MODEL.context_size + 50) });
    expect(long.status).toBe(202);
    expect(long.json).toMatchObject({ status: 'working', task_id: expect.any(String) });
    // (Its delivery asks the router again from now on, each a failure while the link stays down: counted after it.)
    expect(Number(/^mcp_edge_model_failures_total (\S+)$/m.exec(await (await fetch(`${base}/metrics`)).text())![1])).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('a cloud that does not answer within cloud_timeout_ms counts as unreachable', async () => {
    const cloud = new ScriptedCloud([{ kind: 'slow', ms: 20_000, pieces: PIECES }]);
    const endpoint = await cloud.start();
    const gateway = await startGateway({ models: { ...LOCAL_MODEL, max_tokens: 12, cloud_endpoint: endpoint, cloud_timeout_ms: 300, fallback_threshold_ms: 1 } });
    const answer = await gateway.models.generate({ messages: [{ role: 'user', content: QUESTION }] });
    expect(answer).toMatchObject({ engine: 'local', reason: 'cloud_unreachable' });
    expect(answer.fallbacks[1]).toMatchObject({ engine: 'cloud', failure: 'unreachable' });
    expect(answer.fallbacks[1]!.message).toMatch(/did not answer within 300 ms/);
  }, 30_000);
});

describe('a peer mcp-edge as the cloud', () => {
  it('serves a gateway without a local model through the peer\'s /v1/chat/completions, behind the peer\'s API keys', async () => {
    const peer = await startGateway({ models: { ...LOCAL_MODEL, max_tokens: 12 }, auth: { api_keys: true } });
    const { key } = new ApiKeyStore(peer.db).create({ name: 'pi', scopes: [] });
    const peerBase = baseOf(peer.url);
    const anonymous = await postJson(`${peerBase}/v1/chat/completions`, ASK);
    expect(anonymous.status).toBe(401);
    const edge = await startGateway({ models: { cloud_endpoint: `${peerBase}/v1`, cloud_api_key: key } });
    const { status, json } = await postJson(`${baseOf(edge.url)}/v1/chat/completions`, ASK);
    expect(status).toBe(200);
    expect(json.mcp_edge).toMatchObject({ engine: 'cloud', reason: 'no_local_model' });
    expect(json.choices[0].message.content).toMatch(/Paris/);
    const wrongKey = await startGateway({ models: { cloud_endpoint: `${peerBase}/v1`, cloud_api_key: 'mcpe_not_a_key' } });
    const refused = await postJson(`${baseOf(wrongKey.url)}/v1/chat/completions`, ASK);
    expect(refused.status).toBe(503);
    expect(refused.json.error.message).toMatch(/answered 401/);
  }, 30_000);
});
