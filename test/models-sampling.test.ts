// MCP sampling answered by the gateway's models, with real parts: an upstream
// MCP server of our own (test/fixtures/sampling-server.mjs, whose `ask` tool
// sends sampling/createMessage) behind the gateway, real MCP clients with and
// without the sampling capability, the real SmolLM2 model and the scripted
// OpenAI-compatible cloud. Also the `generate` tool. One gateway loads the
// model (one thread, a small context: a shared 2-core machine).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CreateMessageRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parseConfig } from '../host/src/config/load.js';
import { resolveSettings } from '../host/src/config/resolve.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { MODEL_UNAVAILABLE, SAMPLING_REFUSED } from '../host/src/protocol/jsonrpc.js';
import { docPage } from './helpers/docs.js';
import { connectClient, eventually, NODE, startGateway, type UpstreamInput } from './helpers/gateway.js';
import { LOCAL_MODEL, ScriptedCloud, type Script } from './helpers/models.js';
import { ROOT } from './helpers/processes.js';

const SAMPLER: UpstreamInput = { id: 'sampler', transport: 'stdio', command: NODE, args: [join(ROOT, 'test/fixtures/sampling-server.mjs')] };
const LOCAL = 'SmolLM2-135M-Instruct.Q4_1';
const QUESTION = 'What is the capital of France?';
const META = 'dev.mcp-edge/model';

/** What the fixture's `ask` answered: the sampling result, or the error its createMessage threw. */
interface Asked {
  result?: { model: string; role: string; stopReason?: string; content: { type: string; text?: string }; _meta?: Record<string, any> };
  error?: { code: number; message: string; data?: { code?: string } };
}

async function ask(client: Client, args: Record<string, unknown>): Promise<Asked> {
  const answer = (await client.callTool({ name: 'ask', arguments: args }, undefined, { timeout: 120_000 })) as CallToolResult;
  return JSON.parse((answer.content[0] as { text: string }).text) as Asked;
}

let shared: Promise<{ gateway: Gateway; cloud: ScriptedCloud }> | undefined;
/** The real model, the scripted cloud ("big-model"), the sampling fixture and the generate tool; default answer_sampling. */
const hybrid = () =>
  (shared ??= (async () => {
    const cloud = new ScriptedCloud([{ kind: 'answer', pieces: ['Cloud ', 'answer.'] }]);
    const endpoint = await cloud.start();
    const models = { ...LOCAL_MODEL, max_tokens: 16, cloud_endpoint: endpoint, cloud_model: 'big-model', generate_tool: true };
    return { gateway: await startGateway({ models, upstreams: [SAMPLER] }), cloud };
  })());

/** A gateway whose only engine is the scripted cloud, with the given answer_sampling. */
async function cloudOnly(answerSampling: 'always' | 'never' | 'when-client-cannot', scripts: Script[] = [{ kind: 'answer', pieces: ['Cloud ', 'answer.'] }]) {
  const cloud = new ScriptedCloud(scripts);
  const endpoint = await cloud.start();
  const gateway = await startGateway({ models: { cloud_endpoint: endpoint, cloud_model: 'big-model', answer_sampling: answerSampling }, upstreams: [SAMPLER] });
  return { gateway, cloud };
}

/** A client that answers sampling itself, recording the prompts it saw. */
const samplingClient = (gateway: Gateway, seen: string[]) =>
  connectClient(gateway, { capabilities: { sampling: {} } }, (c) =>
    c.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      seen.push(JSON.stringify(request.params.messages));
      return { role: 'assistant', model: 'client-model', content: { type: 'text', text: 'sampled by the client' } };
    }),
  );

describe('sampling answered by the gateway (answer_sampling = "when-client-cannot", the default)', () => {
  it('answers a client without sampling with the real local model; the result names it', async () => {
    const { gateway, cloud } = await hybrid();
    const client = await connectClient(gateway);
    const { result, error } = await ask(client, { prompt: QUESTION, temperature: 0, max_tokens: 12 });
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ role: 'assistant', model: LOCAL, content: { type: 'text' } });
    expect(result!.content.text).toMatch(/Paris/);
    expect(result!.stopReason).toMatch(/^(endTurn|maxTokens)$/);
    expect(result!._meta?.[META]).toMatchObject({ engine: 'local', reason: 'local_first', fallbacks: [] });
    expect(cloud.requests).toHaveLength(0);
  }, 120_000);

  it('honours stopSequences with the local model: the answer ends before the stop text', async () => {
    const { gateway } = await hybrid();
    const client = await connectClient(gateway);
    const { result } = await ask(client, { prompt: QUESTION, temperature: 0, max_tokens: 12, stop: ['Paris'] });
    expect(result).toMatchObject({ model: LOCAL, stopReason: 'stopSequence' });
    expect(result!.content.text).not.toMatch(/Paris/);
  }, 120_000);

  it('still sends the request to a client that can sample, and the models stay out of it', async () => {
    const { gateway, cloud } = await hybrid();
    const seen: string[] = [];
    const client = await samplingClient(gateway, seen);
    const before = gateway.models.counters.render(undefined);
    const { result } = await ask(client, { prompt: 'for the client' });
    expect(result).toMatchObject({ model: 'client-model', content: { text: 'sampled by the client' } });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain('for the client');
    expect(gateway.models.counters.render(undefined)).toBe(before);
    expect(cloud.requests.every((r) => !JSON.stringify(r.body).includes('for the client'))).toBe(true);
  }, 60_000);

  it('refuses image content with a typed error instead of dropping it', async () => {
    const { gateway } = await hybrid();
    const { error } = await ask(await connectClient(gateway), { prompt: 'x', image: true });
    expect(error).toMatchObject({ code: SAMPLING_REFUSED, data: { code: 'unsupported_request' } });
    expect(error!.message).toMatch(/image content/);
  }, 60_000);
});

describe('modelPreferences', () => {
  it('a hint naming the cloud model sends it to the cloud, with the system prompt, maxTokens, temperature and stop', async () => {
    const { gateway, cloud } = await hybrid();
    const sent = cloud.requests.length;
    const { result } = await ask(await connectClient(gateway), { prompt: 'hello', system: 'Be brief.', max_tokens: 9, temperature: 0.5, stop: ['END'], hints: ['big-model'] });
    expect(result).toMatchObject({ model: 'big-model', content: { text: 'Cloud answer.' }, stopReason: 'endTurn' });
    expect(result!._meta?.[META]).toMatchObject({ engine: 'cloud', reason: 'model_hint' });
    expect(cloud.requests.slice(sent)).toHaveLength(1);
    expect(cloud.requests.at(-1)!.body).toMatchObject({
      model: 'big-model',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello' }],
      max_tokens: 9,
      temperature: 0.5,
      stop: ['END'],
    });
  }, 60_000);

  it('skips a hint naming no configured model, and takes the next one (a part of the local model name)', async () => {
    const { gateway } = await hybrid();
    const { result } = await ask(await connectClient(gateway), { prompt: QUESTION, max_tokens: 4, hints: ['claude-3-5-sonnet', 'smollm2'], intelligence: 1 });
    expect(result).toMatchObject({ model: LOCAL });
    expect(result!._meta?.[META]).toMatchObject({ engine: 'local', reason: 'model_hint' });
  }, 120_000);

  it('the leading priority weighs local against cloud: intelligence to the cloud, cost to the local model', async () => {
    const { gateway } = await hybrid();
    const client = await connectClient(gateway);
    const smart = await ask(client, { prompt: 'hello', intelligence: 0.9, cost: 0.2, speed: 0.3 });
    expect(smart.result).toMatchObject({ model: 'big-model', _meta: { [META]: { engine: 'cloud', reason: 'intelligence_priority' } } });
    const cheap = await ask(client, { prompt: QUESTION, max_tokens: 4, intelligence: 0.1, cost: 0.9 });
    expect(cheap.result).toMatchObject({ model: LOCAL, _meta: { [META]: { engine: 'local', reason: 'cost_priority' } } });
  }, 120_000);
});

describe('the npm API', () => {
  it('gateway.models.generate takes the same preferences and stop texts', async () => {
    const { gateway, cloud } = await hybrid();
    const answer = await gateway.models.generate({ messages: [{ role: 'user', content: 'hello' }], stop: ['END'], preferences: { hints: [{ name: 'CLOUD' }] } });
    expect(answer).toMatchObject({ engine: 'cloud', model: 'big-model', reason: 'model_hint', text: 'Cloud answer.', stoppedBySequence: false });
    expect(cloud.requests.at(-1)!.body.stop).toEqual(['END']);
  }, 60_000);
});

describe('[models] prices', () => {
  it('cost first picks the cheaper engine by its prices, and every answer says what it cost', async () => {
    const cloud = new ScriptedCloud([{ kind: 'answer', pieces: ['Cloud ', 'answer.'] }]);
    const endpoint = await cloud.start();
    // Per 1000 tokens: the cloud 0.1 (prompt) and 0.4 (answer), the local model 1.0 (its energy, say): the cloud is cheaper.
    const prices = { cloud_cost_per_1k_prompt_tokens: 0.1, cloud_cost_per_1k_completion_tokens: 0.4, local_cost_per_1k_tokens: 1 };
    const gateway = await startGateway({ models: { ...LOCAL_MODEL, max_tokens: 8, cloud_endpoint: endpoint, cloud_model: 'big-model', ...prices } });
    const messages = [{ role: 'user' as const, content: QUESTION }];
    const cheap = await gateway.models.generate({ messages, preferences: { costPriority: 0.9, speedPriority: 0.1 } });
    expect(cheap).toMatchObject({ engine: 'cloud', reason: 'cost_priority', text: 'Cloud answer.' });
    const prompt = await gateway.models.local!.countTokens(messages);
    const estimated = { local: ((prompt + 8) / 1000) * 1, cloud: (prompt / 1000) * 0.1 + (8 / 1000) * 0.4 };
    expect(cheap.cost!.estimated.local).toBeCloseTo(estimated.local, 9);
    expect(cheap.cost!.estimated.cloud).toBeCloseTo(estimated.cloud, 9);
    // The scripted cloud reports no usage: 2 pieces counted as 2 tokens, no prompt tokens.
    expect(cheap.cost!.actual).toBeCloseTo((2 / 1000) * 0.4, 12);

    // Without cost first the prices do not move the request: local first, billed at the local price.
    const res = await fetch(`${gateway.url.replace(/\/mcp$/, '')}/v1/mcp/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages, max_tokens: 4 }) });
    const local = await res.json();
    expect(local).toMatchObject({ engine: 'local', reason: 'local_first', cost: { estimated: { cloud: expect.any(Number), local: expect.any(Number) } } });
    expect(local.cost.actual).toBeCloseTo(((local.usage.prompt_tokens + local.usage.completion_tokens) / 1000) * 1, 9);
    const metrics = await (await fetch(`${gateway.url.replace(/\/mcp$/, '')}/metrics`)).text();
    expect(metrics).toMatch(/mcp_edge_model_cost_total\{engine="cloud"\} 0\.0008/);
    expect(metrics).toMatch(/mcp_edge_model_cost_total\{engine="local"\} [0-9.]+/);
    await cloud.stop();
  }, 120_000);
});

describe('answer_sampling: never, always, and sessions the shared connection cannot tell apart', () => {
  it('"never": a client without sampling gets a typed refusal that says what to change', async () => {
    const { gateway, cloud } = await cloudOnly('never');
    const { result, error } = await ask(await connectClient(gateway), { prompt: 'hello' });
    expect(result).toBeUndefined();
    expect(error).toMatchObject({ code: SAMPLING_REFUSED, data: { code: 'client_cannot_sample' } });
    expect(error!.message).toMatch(/did not declare the sampling capability.*answer_sampling = "never"/);
    expect(cloud.requests).toHaveLength(0);
    // A client that can sample still gets it.
    const seen: string[] = [];
    expect((await ask(await samplingClient(gateway, seen), { prompt: 'hello' })).result).toMatchObject({ model: 'client-model' });
  }, 60_000);

  it('"always": the gateway answers even a client that can sample', async () => {
    const { gateway, cloud } = await cloudOnly('always');
    const seen: string[] = [];
    const { result } = await ask(await samplingClient(gateway, seen), { prompt: 'hello' });
    expect(result).toMatchObject({ model: 'big-model', content: { text: 'Cloud answer.' } });
    expect(seen).toEqual([]);
    expect(cloud.requests).toHaveLength(1);
  }, 60_000);

  it('"when-client-cannot": two sessions in flight on one shared connection, neither can sample: the gateway answers both', async () => {
    // The first answer is held 500 ms, so the second session's call and sampling come while the first is in flight:
    // the shared connection cannot say whose request is whose, but no client is shown anything, so nothing is refused.
    const { gateway, cloud } = await cloudOnly('when-client-cannot', [{ kind: 'slow', ms: 500, pieces: ['Slow.'] }, { kind: 'answer', pieces: ['Quick.'] }]);
    const [a, b] = [await connectClient(gateway), await connectClient(gateway)];
    const first = ask(a, { prompt: 'from a' });
    await eventually(() => (cloud.requests.length === 1 ? true : undefined), 10_000, "the first session's sampling to reach the cloud");
    const second = await ask(b, { prompt: 'from b' });
    expect(second).toMatchObject({ result: { model: 'big-model', content: { text: 'Quick.' } } });
    expect(await first).toMatchObject({ result: { model: 'big-model', content: { text: 'Slow.' } } });
  }, 60_000);

  it('a gateway without models answers with a typed error naming the missing [models] keys', async () => {
    const gateway = await startGateway({ upstreams: [SAMPLER] });
    const { error } = await ask(await connectClient(gateway), { prompt: 'hello' });
    expect(error).toMatchObject({ code: MODEL_UNAVAILABLE, data: { code: 'no_engine' } });
    expect(error!.message).toMatch(/no model is configured/);
  }, 60_000);
});

describe('the generate tool', () => {
  it('is listed only when [models] generate_tool = true, and answers with the real model', async () => {
    const { gateway } = await hybrid();
    const client = await connectClient(gateway);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('generate');
    const answer = (await client.callTool({ name: 'generate', arguments: { prompt: QUESTION, max_tokens: 12 } }, undefined, { timeout: 120_000 })) as CallToolResult;
    expect(answer.isError).toBeFalsy();
    expect(answer.structuredContent).toMatchObject({ engine: 'local', model: LOCAL, reason: 'local_first' });
    expect(String(answer.structuredContent!.text)).toMatch(/Paris/);
    const off = await cloudOnly('never');
    expect((await (await connectClient(off.gateway)).listTools()).tools.map((t) => t.name)).not.toContain('generate');
  }, 120_000);
});

describe('docs/inference.md', () => {
  it('shows a [models] example the gateway accepts, answer_sampling and generate_tool included', () => {
    const config = parseConfig(docPage('docs/inference.md').example('models-config', 'toml'), 'docs/inference.md', { CLOUD_API_KEY: 'sk-example' });
    const models = resolveSettings(config).models;
    expect(models).toMatchObject({ answerSampling: 'when-client-cannot', generateTool: false, maxTokens: 256, cloud: { apiKey: 'sk-example', model: 'gpt-4o-mini' } });
    // The defaults, with the keys left out.
    expect(resolveSettings(parseConfig('[models]\n', 'empty', {})).models).toMatchObject({ answerSampling: 'when-client-cannot', generateTool: false });
  });
});
