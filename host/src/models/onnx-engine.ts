// The ONNX engine: a causal language model exported to ONNX, run by
// onnxruntime-node (CPU), behind the same LocalEngine interface as the GGUF
// engine, so the router, fallback and routes do not know which runs. The
// model takes `input_ids` (int64 [1, n]) and returns logits ([1, n, vocab]) as
// its first input and output; it is run on the whole sequence at each step
// (no key-value cache: plain exports work, at the cost of speed on long
// answers). Its tokenizer.json is loaded into the Rust core, which also counts
// the prompt for the router; the chat template is ChatML.
// onnxruntime-node is imported on first load, so a gateway without an ONNX model
// never loads it; it is not a dependency of mcp-edge (a user of ONNX models installs it).
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { Tokenizer, TokenizerFactory } from '../core/index.js';
import { ModelError, type ChatMessage, type EngineResult, type GenerateRequest, type LocalEngine, type OnText } from './engine.js';
import { Turns } from './turns.js';

export interface OnnxEngineOptions {
  /** The .onnx file. */
  modelPath: string;
  /** Its Hugging Face tokenizer.json. */
  tokenizerPath: string;
  tokenizers: TokenizerFactory;
  /** Tokens (prompt + answer) a request may take. */
  contextSize?: number;
  /** Refuse a model file larger than this ([models] max_memory_mb; the weights are the bulk of its memory). */
  maxMemoryBytes?: number;
  threads?: number;
}

/** ChatML's markers: each message is `<|im_start|>role\ncontent<|im_end|>\n`. */
const START = '<|im_start|>';
const END = '<|im_end|>';
const DEFAULT_CONTEXT = 2048;

interface Loaded {
  session: InferenceSession;
  ort: typeof import('onnxruntime-node');
  tokenizer: Tokenizer;
  /** The token that ends an answer (`<|im_end|>`, else `<|endoftext|>`). */
  eos: number;
  bytes: number;
}

/** The prompt of `messages` in ChatML, ending where the assistant's answer starts. */
export function chatMlPrompt(messages: readonly ChatMessage[], prefix = ''): string {
  return messages.map((m) => `${START}${m.role}\n${m.content}${END}\n`).join('') + `${START}assistant\n${prefix}`;
}

export class OnnxEngine implements LocalEngine {
  readonly kind = 'local' as const;
  readonly model: string;
  private current: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;
  private readonly turns = new Turns();
  private measured: { tokensPerSecond?: number } = {};

  constructor(private readonly options: OnnxEngineOptions) {
    this.model = basename(options.modelPath).replace(/\.onnx$/i, '');
  }

  get loaded(): boolean {
    return this.current !== undefined;
  }

  get queueDepth(): number {
    return this.turns.depth;
  }

  async load(): Promise<void> {
    this.loading ??= this.loadModel().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    this.current = await this.loading;
  }

  private async loadModel(): Promise<Loaded> {
    const { modelPath, tokenizerPath } = this.options;
    for (const [file, key] of [[modelPath, 'model_path'], [tokenizerPath, 'tokenizer_path']] as const) {
      if (!existsSync(file)) throw new ModelError('model_not_found', `${file} does not exist: check [models] ${key}`);
    }
    const bytes = statSync(modelPath).size;
    const limit = this.options.maxMemoryBytes;
    if (limit !== undefined && bytes > limit) throw new ModelError('model_too_large', `${this.model} takes ${Math.ceil(bytes / 2 ** 20)} MB, more than [models] max_memory_mb = ${Math.floor(limit / 2 ** 20)}`);
    const ort = await import('onnxruntime-node').catch((err: unknown) => {
      throw new ModelError('model_load_failed', `an ONNX model needs onnxruntime-node, which mcp-edge does not install (its binaries for every platform weigh more than the gateway): npm install onnxruntime-node@1.30 next to mcp-edge (${(err as Error).message})`);
    });
    try {
      const session = await ort.InferenceSession.create(modelPath, { ...(this.options.threads ? { intraOpNumThreads: this.options.threads } : {}) });
      const tokenizer = this.options.tokenizers.fromTokenizerJson(await readFile(tokenizerPath));
      const special = (text: string) => tokenizer.specialTokens.find((t) => t.text === text)?.id;
      const eos = special(END) ?? special('<|endoftext|>');
      if (eos === undefined) throw new Error(`its tokenizer has no ${END} or <|endoftext|> special token to end an answer`);
      return { session, ort, tokenizer, eos, bytes };
    } catch (err) {
      throw new ModelError('model_load_failed', `could not load ${modelPath} with onnxruntime-node: ${(err as Error).message}`);
    }
  }

  async unload(): Promise<void> {
    const loaded = this.current;
    this.current = undefined;
    this.loading = undefined;
    if (!loaded) return;
    loaded.tokenizer.dispose();
    await loaded.session.release();
  }

  async countTokens(messages: ChatMessage[]): Promise<number> {
    await this.load();
    return this.current!.tokenizer.count(chatMlPrompt(messages), { allowSpecial: true });
  }

  async contextLength(): Promise<number> {
    return this.options.contextSize ?? DEFAULT_CONTEXT;
  }

  memoryBytes(): number {
    return this.current?.bytes ?? 0;
  }

  speed(): { tokensPerSecond?: number } {
    return this.measured;
  }

  generate(request: GenerateRequest, onText: OnText): Promise<EngineResult> {
    return this.turns.run(() => this.generateNow(request, onText));
  }

  private async generateNow(request: GenerateRequest, onText: OnText): Promise<EngineResult> {
    await this.load();
    const { tokenizer, eos } = this.current!;
    const ids = [...tokenizer.encode(chatMlPrompt(request.messages, request.prefix ?? ''), { allowSpecial: true })];
    const promptTokens = ids.length;
    const room = (await this.contextLength()) - promptTokens;
    if (room <= 0) throw new ModelError('context_exceeded', `the prompt takes ${promptTokens} tokens; ${this.model}'s context holds ${await this.contextLength()}`);
    const pick = sampler(request.temperature, request.seed);
    const answer: number[] = [];
    let sent = '';
    const started = performance.now();
    while (answer.length < Math.min(request.maxTokens, room)) {
      if (request.signal?.aborted) throw new ModelError('generation_failed', 'the request was cancelled');
      const next = pick(await this.lastLogits(ids));
      if (next === eos) return this.finish(sent, 'stop', false, promptTokens, answer.length, started);
      ids.push(next);
      answer.push(next);
      // Emit only whole chars: a byte-level token may end inside one (decodeText gives U+FFFD there).
      const text = tokenizer.decodeText(answer);
      if (text.endsWith('\uFFFD')) continue;
      const stopAt = firstStop(text, request.stop);
      const upTo = stopAt ?? text.length;
      if (upTo > sent.length) onText(text.slice(sent.length, upTo));
      sent = text.slice(0, Math.max(upTo, sent.length));
      if (stopAt !== undefined) return this.finish(sent, 'stop', true, promptTokens, answer.length, started);
    }
    return this.finish(tokenizer.decodeText(answer), 'length', false, promptTokens, answer.length, started);
  }

  private async lastLogits(ids: readonly number[]): Promise<Float32Array> {
    const { session, ort } = this.current!;
    const input = new ort.Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [1, ids.length]);
    const outputs = await session.run({ [session.inputNames[0]!]: input });
    const logits = outputs[session.outputNames[0]!]!;
    const vocab = logits.dims.at(-1)!;
    const data = logits.data as Float32Array;
    return data.subarray(data.length - vocab);
  }

  private finish(text: string, finishReason: 'stop' | 'length', stoppedBySequence: boolean, promptTokens: number, completionTokens: number, started: number): EngineResult {
    const seconds = (performance.now() - started) / 1000;
    if (completionTokens > 0 && seconds > 0) this.measured = { tokensPerSecond: completionTokens / seconds };
    return { text, finishReason, stoppedBySequence, promptTokens, completionTokens };
  }
}

/** Where the first stop text starts in `text`, if any. */
function firstStop(text: string, stop: readonly string[] | undefined): number | undefined {
  const found = (stop ?? []).map((s) => text.indexOf(s)).filter((i) => i >= 0);
  return found.length ? Math.min(...found) : undefined;
}

/** Greedy at temperature 0; else a draw from the softmax at that temperature, repeatable with a seed. */
function sampler(temperature: number, seed: number | undefined): (logits: Float32Array) => number {
  if (temperature <= 0) return argmax;
  let state = (seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  // mulberry32: a small seeded generator, enough to make a seeded answer repeatable.
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return (logits) => {
    const top = logits[argmax(logits)]!;
    const weights = Array.from(logits, (l) => Math.exp((l - top) / temperature));
    let r = random() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < weights.length; i += 1) if ((r -= weights[i]!) <= 0) return i;
    return weights.length - 1;
  };
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i]! > values[best]!) best = i;
  return best;
}
