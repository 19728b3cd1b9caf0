// The ONNX engine (onnxruntime-node) behind the same routes and router as the
// GGUF one, with a tiny model built in setup (helpers/onnx.ts): after a ChatML
// prompt it answers "OK" and ends, so every field of the answer is known.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createGateway } from '../host/src/gateway/gateway.js';
import { loadCore } from '../host/src/core/index.js';
import { chatMlPrompt } from '../host/src/models/onnx-engine.js';
import { startGateway } from './helpers/gateway.js';
import { baseOf, postJson, postSse } from './helpers/models.js';
import { makeTinyOnnxModel } from './helpers/onnx.js';

const dir = mkdtempSync(join(tmpdir(), 'models-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const modelPath = makeTinyOnnxModel(dir);

describe('ONNX engine', () => {
  it('answers through /v1/mcp/completions and streams through /v1/chat/completions, named as the local model', async () => {
    const gateway = await startGateway({ models: { model_path: modelPath, context_size: 256 } });
    const base = baseOf(gateway.url);
    const { status, json } = await postJson(`${base}/v1/mcp/completions`, { prompt: 'Say OK.', max_tokens: 8 });
    expect(status).toBe(200);
    // Exact: one token per byte of the ChatML prompt, each marker one token.
    const prompt = chatMlPrompt([{ role: 'user', content: 'Say OK.' }]);
    const markers = prompt.split(/<\|im_(?:start|end)\|>/).length - 1;
    const promptTokens = Buffer.byteLength(prompt.replace(/<\|im_(?:start|end)\|>/g, '')) + markers;
    expect(json).toMatchObject({ text: 'OK', finish_reason: 'stop', engine: 'local', model: 'tiny', reason: 'local_first', usage: { prompt_tokens: promptTokens, completion_tokens: 2 } });
    expect(gateway.models.status().local).toMatchObject({ model: 'tiny', loaded: true });
    const streamed = await postSse(`${base}/v1/chat/completions`, { messages: [{ role: 'user', content: 'Say OK.' }], stream: true });
    const pieces = streamed.events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data).choices[0].delta.content).filter(Boolean);
    expect(pieces).toEqual(['O', 'K']);
  }, 60_000);

  it('stops at max_tokens and at a stop sequence, and refuses a prompt longer than its context', async () => {
    const gateway = await startGateway({ models: { model_path: modelPath, context_size: 64 } });
    const short = await gateway.models.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 });
    expect(short).toMatchObject({ text: 'O', finishReason: 'length' });
    const stopped = await gateway.models.generate({ messages: [{ role: 'user', content: 'hi' }], stop: ['K'] });
    expect(stopped).toMatchObject({ text: 'O', finishReason: 'stop', stoppedBySequence: true });
    const long = await postJson(`${baseOf(gateway.url)}/v1/mcp/completions`, { prompt: 'x'.repeat(100) });
    expect(long.status).toBe(503);
    expect(long.json.error.message).toMatch(/more than the local model's context of 64/);
  }, 60_000);

  it('refuses tokenizer_path next to a GGUF model instead of ignoring it', async () => {
    await expect(createGateway({ config: { gateway: { bind_address: '127.0.0.1:0', data_dir: join(dir, 'gguf') }, models: { model_path: join(dir, 'model.gguf'), tokenizer_path: join(dir, 'tokenizer.json') } }, core: await loadCore() })).rejects.toThrow(/tokenizer_path is for an ONNX model/);
  });
});
