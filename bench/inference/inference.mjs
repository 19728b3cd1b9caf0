#!/usr/bin/env node
// bench/inference: the gateway's local model against node-llama-cpp driven
// directly, in the same process and run, on the same GGUF (the test model,
// SmolLM2-135M-Instruct Q4_1). See README.md for what each figure means and
// why the direct side runs on the gateway's own loaded context.
//
//   local      time to first text and generation tokens/s of one answer
//              (temperature 0, the same answer on every side):
//              "direct"   node-llama-cpp's LlamaChat.generateResponse called by
//                         this script on the very context the gateway's engine
//                         loaded (same runtime, weights, context buffers,
//                         threads, chat wrapper): only the code path differs;
//              "api"      gateway.models.generate (router, engine, no HTTP);
//              "http"     POST /v1/chat/completions with stream: true over
//                         127.0.0.1, timed by the client;
//              The three take turns round after round; medians per side.
//   instance_effect  then, apart, the direct call on the gateway's runtime
//              against the direct call on a second runtime of its own
//              (getLlama + loadModel + createContext with the same options):
//              the old baseline, kept to show the instance effect that once
//              made the gateway read faster than node-llama-cpp.
//   decision   one routing decision for a 4 KB prompt: the exact prompt token
//              count in the local model (the core's BPE on the GGUF's own
//              vocabulary) + the Rust core's decision; llama.cpp's count of the
//              same prompt alongside, the path the core's count replaced.
//   fallback   the local model misses fallback_threshold_ms: the client's
//              first token (from a scripted cloud on 127.0.0.1 with a fixed
//              time to first token) against threshold + the cloud's own TTFT.
//
//   node bench/inference/inference.mjs   (options: --rounds N --max-tokens N --threads N)
// Prints one JSON document and writes it to bench/results/inference.json. Needs the built host (npm run build) and the test
// model (node scripts/models.mjs fetches it).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getLlama, LlamaChat, LlamaLogLevel } from 'node-llama-cpp';
import { ensureTestModel } from '../../scripts/models.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** @type {typeof import('../../host/src/gateway/gateway.js')} */
const { createGateway } = await import(join(root, 'host/dist/gateway/gateway.js'));
/** @type {typeof import('../../host/src/telemetry/log.js')} */
const { createLogger } = await import(join(root, 'host/dist/telemetry/log.js'));

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, 'max-tokens': { type: 'string' }, threads: { type: 'string' } } });
const ROUNDS = Number(args.rounds ?? 7);
const MAX_TOKENS = Number(args['max-tokens'] ?? 64);
const THREADS = Number(args.threads ?? 1);
const CONTEXT = 2048;
const QUESTION = 'Write three sentences about the city of Paris.';
const CLOUD_TTFT_MS = 40;
const THRESHOLD_MS = 20;

const modelPath = ensureTestModel();
const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const round = (/** @type {number} */ x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const loadAtStart = os.loadavg().map((l) => round(l));

/** @typedef {{ ttftMs: number, tokensPerSecond: number, tokens: number, totalMs: number, text: string }} Sample */

/** One answer's figures from its start, first text and end. */
function sampleOf(/** @type {number} */ started, /** @type {number | undefined} */ first, /** @type {number} */ tokens, /** @type {string} */ text) {
  const end = performance.now();
  return { ttftMs: (first ?? end) - started, tokensPerSecond: ((tokens - 1) * 1000) / (end - (first ?? end)), tokens, totalMs: end - started, text };
}

// --- the gateway: its engine loads the model, the direct side borrows its LlamaChat ---
const quiet = createLogger('silent');
const plainDir = join(os.tmpdir(), `bench-inference-${process.pid}`);
const hybridDir = join(os.tmpdir(), `bench-inference-h-${process.pid}`);
const gateway = await createGateway({ config: { gateway: { bind_address: '127.0.0.1:0', data_dir: plainDir }, models: { model_path: modelPath, threads: THREADS, context_size: CONTEXT, max_tokens: MAX_TOKENS } }, logger: quiet });
const base = gateway.url.replace(/\/mcp$/, '');
const engine = /** @type {import('../../host/src/models/llama-engine.js').LlamaEngine} */ (gateway.models.local);
await engine.load();
// The engine's loaded parts (a private field, read here on purpose: the bench, not the gateway, needs them). The gateway
// runs one generation at a time and this script waits for each answer, so the two never use the context at once.
const sharedChat = /** @type {LlamaChat | undefined} */ (engine['current']?.chat);
if (!sharedChat) throw new Error('the gateway engine has no loaded LlamaChat: LlamaEngine changed, update this bench');

// --- separate: a second runtime with the same options, as the bench had before ---
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({ contextSize: CONTEXT, sequences: 1, threads: THREADS });
const separateChat = new LlamaChat({ contextSequence: context.getSequence() });

/**
 * One direct answer on `chat`, measured as the gateway measures its own: from
 * before clearing the sequence (the engine clears it for every request) to
 * the first text chunk, and to the end.
 * @param {LlamaChat} chat
 * @returns {Promise<Sample>}
 */
async function direct(chat) {
  const started = performance.now();
  await chat.sequence.clearHistory();
  /** @type {number | undefined} */
  let first;
  let tokens = 0;
  let text = '';
  await chat.generateResponse([{ type: 'user', text: QUESTION }, { type: 'model', response: [] }], {
    maxTokens: MAX_TOKENS,
    temperature: 0,
    onToken: (t) => (tokens += t.length),
    onTextChunk: (chunk) => {
      first ??= performance.now();
      text += chunk;
    },
  });
  return sampleOf(started, first, tokens, text);
}

/**
 * Streams one completion from `url`; the client's time to first text and the chunks' rate after it.
 * @param {string} url
 * @param {string} prompt
 */
async function viaHttp(url, prompt) {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: prompt }], max_tokens: MAX_TOKENS, temperature: 0, stream: true }) });
  if (!res.body) throw new Error(`no body from ${url}`);
  const decoder = new TextDecoder();
  /** @type {number | undefined} */
  let first;
  let buffered = '';
  let text = '';
  /** @type {any} */
  let last;
  const reader = res.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    buffered += decoder.decode(r.value, { stream: true });
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const data = buffered.slice(6, end);
      buffered = buffered.slice(end + 2);
      if (data === '[DONE]') continue;
      const json = JSON.parse(data);
      const content = json.choices?.[0]?.delta?.content;
      if (content) {
        first ??= performance.now();
        text += content;
      }
      last = json;
    }
  }
  return { ...sampleOf(started, first, last?.usage?.completion_tokens ?? 0, text), served: last?.mcp_edge };
}

/** The same gateway through the npm API (gateway.models.generate): the engine path without HTTP and SSE. */
async function viaApi() {
  const started = performance.now();
  /** @type {number | undefined} */
  let first;
  const answer = await gateway.models.generate({ messages: [{ role: 'user', content: QUESTION }], maxTokens: MAX_TOKENS, temperature: 0, onText: () => (first ??= performance.now()) });
  return sampleOf(started, first, answer.usage.completionTokens, answer.text);
}

/**
 * Warms each side once, then runs `rounds` rounds in which each side answers
 * once, each round starting with the next side (none always first, or always
 * after the same one).
 * @template {string} K
 * @param {Record<K, () => Promise<Sample>>} sides
 * @param {number} rounds
 * @returns {Promise<Record<K, Sample[]>>}
 */
async function takeTurns(sides, rounds) {
  const names = /** @type {K[]} */ (Object.keys(sides));
  for (const name of names) await sides[name]();
  const out = /** @type {Record<K, Sample[]>} */ (/** @type {unknown} */ (Object.fromEntries(names.map((n) => [n, []]))));
  for (let r = 0; r < rounds; r += 1) {
    for (let i = 0; i < names.length; i += 1) {
      const name = /** @type {K} */ (names[(r + i) % names.length]);
      out[name].push(await sides[name]());
    }
  }
  return out;
}

// The gateway against the direct call on its own context; then, apart, the direct call on the gateway's runtime
// against a separate runtime (the instance effect), so that the first comparison never interleaves two runtimes.
const samples = await takeTurns({ direct: () => direct(sharedChat), api: viaApi, http: () => viaHttp(`${base}/v1/chat/completions`, QUESTION) }, ROUNDS);
const runtimes = await takeTurns({ shared: () => direct(sharedChat), separate: () => direct(separateChat) }, ROUNDS);
// total_ms: from the request to the last token: the whole cost, not only the rate after the first token. The ranges
// (fastest, slowest) show how much the shared machine moved the samples.
const summary = (/** @type {Sample[]} */ s) => ({
  ttft_ms: round(median(s.map((x) => x.ttftMs))),
  tokens_per_second: round(median(s.map((x) => x.tokensPerSecond))),
  total_ms: round(median(s.map((x) => x.totalMs))),
  tokens: median(s.map((x) => x.tokens)),
  ttft_ms_range: [round(Math.min(...s.map((x) => x.ttftMs))), round(Math.max(...s.map((x) => x.ttftMs)))],
  total_ms_range: [round(Math.min(...s.map((x) => x.totalMs))), round(Math.max(...s.map((x) => x.totalMs)))],
});
const local = { direct: summary(samples.direct), gateway_api: summary(samples.api), gateway_http: summary(samples.http) };
const instance = { direct_on_gateway_runtime: summary(runtimes.shared), direct_separate_runtime: summary(runtimes.separate) };
// The same work on every side: the same answer, token for token (temperature 0, one prompt).
const answers = new Set([...Object.values(samples), ...Object.values(runtimes)].flat().map((x) => x.text));
const ratio = (/** @type {ReturnType<typeof summary>} */ a, /** @type {ReturnType<typeof summary>} */ to) => ({
  tokens_per_second: round(a.tokens_per_second / to.tokens_per_second, 3),
  ttft: round(a.ttft_ms / to.ttft_ms, 3),
  total: round(a.total_ms / to.total_ms, 3),
});

// --- decision: exact token count of a 4 KB prompt + the core's decision ---
const prompt4k = 'The gateway routes each request to the local model or the cloud. '.repeat(62).slice(0, 4096);
const messages = [{ role: /** @type {const} */ ('user'), content: prompt4k }];
const promptTokens = await engine.countTokens(messages);
const input = { local: { available: true, promptTokens, contextLength: CONTEXT, tokensPerSecond: local.gateway_http.tokens_per_second, queueDepth: 0 }, cloudConfigured: true, linkUp: true, maxTokens: MAX_TOKENS, fallbackThresholdMs: 500, power: /** @type {const} */ ('normal'), tried: [] };
/** @type {number[]} */
const countMs = [];
/** @type {number[]} */
const decideMs = [];
/** @type {number[]} */
const llamaCountMs = [];
for (let i = 0; i < 300; i += 1) {
  const t0 = performance.now();
  const n = await engine.countTokens([...messages]); // a new array: the engine remembers a request's count by its array
  const t1 = performance.now();
  gateway.core.decideModel({ ...input, local: { ...input.local, promptTokens: n } });
  const t2 = performance.now();
  await engine.countTokensWithLlama(messages); // the same count by llama.cpp's tokenizer (what the router used before)
  llamaCountMs.push(performance.now() - t2);
  countMs.push(t1 - t0);
  decideMs.push(t2 - t1);
}
const decision = {
  prompt_bytes: Buffer.byteLength(prompt4k),
  prompt_tokens: promptTokens,
  counted_by: engine.promptCounter,
  count_ms: round(median(countMs), 4),
  core_decide_ms: round(median(decideMs), 4),
  total_ms: round(median(countMs.map((c, i) => c + (decideMs[i] ?? 0))), 4),
  llama_cpp_count_ms: round(median(llamaCountMs), 4),
};

// --- fallback: local misses the threshold, the scripted cloud answers ---
const cloud = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const piece of ['Paris', ' is', ' the', ' capital', '.']) res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`);
      res.end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
    }, CLOUD_TTFT_MS);
  });
});
await new Promise((resolve) => cloud.listen(0, '127.0.0.1', () => resolve(undefined)));
const cloudUrl = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (cloud.address()).port}/v1`;
const hybrid = await createGateway({ config: { gateway: { bind_address: '127.0.0.1:0', data_dir: hybridDir }, models: { model_path: modelPath, threads: THREADS, context_size: CONTEXT, max_tokens: MAX_TOKENS, cloud_endpoint: cloudUrl, fallback_threshold_ms: THRESHOLD_MS } }, logger: quiet });
const hybridBase = hybrid.url.replace(/\/mcp$/, '');
await viaHttp(`${hybridBase}/v1/chat/completions`, 'Hello'); // loads the model
/** @type {number[]} */
const cloudDirect = [];
/** @type {number[]} */
const viaFallback = [];
/** @type {string[]} */
const reasons = [];
for (let r = 0; r < ROUNDS; r += 1) {
  cloudDirect.push((await viaHttp(`${cloudUrl}/chat/completions`, prompt4k)).ttftMs);
  const f = await viaHttp(`${hybridBase}/v1/chat/completions`, prompt4k);
  viaFallback.push(f.ttftMs);
  reasons.push(`${f.served?.engine}:${f.served?.reason}`);
}
const fallback = {
  threshold_ms: THRESHOLD_MS,
  cloud_ttft_ms: round(median(cloudDirect)),
  first_token_ms: round(median(viaFallback)),
  overhead_ms: round(median(viaFallback) - THRESHOLD_MS - median(cloudDirect)),
  served: [...new Set(reasons)],
};

await Promise.all([gateway.close(), hybrid.close()]);
cloud.close();
for (const dir of [plainDir, hybridDir]) rmSync(dir, { recursive: true, force: true });
separateChat.dispose();
await context.dispose();
await model.dispose();

const text = JSON.stringify({
  bench: 'inference',
  model: 'SmolLM2-135M-Instruct.Q4_1 (GGUF, node-llama-cpp CPU)',
  threads: THREADS,
  context: CONTEXT,
  max_tokens: MAX_TOKENS,
  rounds: ROUNDS,
  load_average: { start: loadAtStart, end: os.loadavg().map((l) => round(l)) },
  cpus: os.cpus().length,
  local,
  same_answer_everywhere: answers.size === 1,
  ratio_to_direct: { api: ratio(local.gateway_api, local.direct), http: ratio(local.gateway_http, local.direct) },
  instance_effect: { ...instance, separate_to_shared: ratio(instance.direct_separate_runtime, instance.direct_on_gateway_runtime) },
  decision,
  fallback,
}, null, 2);
console.log(text);
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/inference.json'), text + '\n');
