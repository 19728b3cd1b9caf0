// The GGUF engine: llama.cpp through node-llama-cpp, CPU build, prebuilt binary
// from its per-platform npm package (never a download or a compile at run time).
// node-llama-cpp is imported on first use, so a gateway that never generates
// starts as fast as one without models. One context sequence: requests take
// turns (queueDepth says how many wait).
import { basename } from 'node:path';
import { existsSync } from 'node:fs';
import type { Llama, LlamaChat, LlamaContext, LlamaModel, LlamaText, ChatHistoryItem } from 'node-llama-cpp';
import type { TokenizerFactory } from '../core/index.js';
import { coreTokenizerOf, countTemplate, type CoreCounter, type GgufTokenizerMetadata, type TemplatePiece } from './gguf-vocabulary.js';
import { ModelError, type ChatMessage, type EngineResult, type GenerateRequest, type LocalEngine, type OnText } from './engine.js';
import { Turns } from './turns.js';

export interface LlamaEngineOptions {
  /** The .gguf file. */
  modelPath: string;
  /** Refuse to load when the model and its context would take more ([models] max_memory_mb). */
  maxMemoryBytes?: number;
  /** Tokens (prompt + answer) the context holds; at most what the model was trained on. */
  contextSize?: number;
  /** CPU threads for generation; node-llama-cpp's default (all cores) when absent. */
  threads?: number;
  /** Unload after this long without a request; 0 never. */
  idleUnloadMs?: number;
  /** Called once per load with what it is doing (the progress line). */
  onProgress?: (message: string) => void;
  /** The core's tokenizers: prompt counts in the core when it implements the model's tokenizer (gguf-vocabulary.ts). */
  tokenizers?: TokenizerFactory;
}

const DEFAULT_CONTEXT = 2048;
const DEFAULT_IDLE_UNLOAD_MS = 5 * 60_000;
const MIB = 1024 * 1024;
/** Weight of the newest answer in the speed averages. */
const SPEED_ALPHA = 0.3;

/** The node-llama-cpp parts a loaded model holds. */
interface Loaded {
  model: LlamaModel;
  context: LlamaContext;
  chat: LlamaChat;
  bytes: number;
  lib: typeof import('node-llama-cpp');
  /** The model's vocabulary in the core, when the core can count for it. */
  counter?: CoreCounter;
}

let llamaRuntime: Promise<{ llama: Llama; lib: typeof import('node-llama-cpp') }> | undefined;

/** node-llama-cpp and its CPU binary, loaded once per process. */
function runtime(): Promise<{ llama: Llama; lib: typeof import('node-llama-cpp') }> {
  llamaRuntime ??= (async () => {
    const lib = await import('node-llama-cpp');
    // build: 'never' -- the prebuilt binary or an error, never a compile from GitHub sources.
    const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error, progressLogs: false });
    return { llama, lib };
  })();
  llamaRuntime.catch(() => (llamaRuntime = undefined));
  return llamaRuntime;
}

export class LlamaEngine implements LocalEngine {
  readonly kind = 'local' as const;
  readonly model: string;
  private loadedState: Promise<Loaded> | undefined;
  private current: Loaded | undefined;
  private readonly turns = new Turns();
  private idleTimer: NodeJS.Timeout | undefined;
  /** Prompt token counts by messages array (the same request's array, counted once). */
  private readonly counted = new WeakMap<ChatMessage[], number>();
  private measured: { tokensPerSecond?: number; promptTokensPerSecond?: number } = {};

  constructor(private readonly options: LlamaEngineOptions) {
    this.model = basename(options.modelPath).replace(/\.gguf$/i, '');
  }

  get loaded(): boolean {
    return this.current !== undefined;
  }

  /** Requests waiting for their turn, the one running included. */
  get queueDepth(): number {
    return this.turns.depth;
  }

  load(): Promise<void> {
    this.loadedState ??= this.loadModel().then(
      (loaded) => (this.current = loaded),
      (err: unknown) => {
        this.loadedState = undefined;
        throw err;
      },
    );
    return this.loadedState.then(() => undefined);
  }

  private async loadModel(): Promise<Loaded> {
    const { modelPath } = this.options;
    if (!existsSync(modelPath)) throw new ModelError('model_not_found', `the model file ${modelPath} does not exist: check [models] model_path (or local_model and the model cache)`);
    const { llama, lib } = await runtime();
    const info = await lib.readGgufFileInfo(modelPath);
    const insights = await lib.GgufInsights.from(info, llama);
    const contextSize = Math.min(this.options.contextSize ?? DEFAULT_CONTEXT, insights.trainContextSize ?? DEFAULT_CONTEXT);
    const needs = (await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0 })).cpuRam + (await insights.estimateContextResourceRequirementsV2({ contextSize, modelGpuLayers: 0 })).cpuRam;
    const limit = this.options.maxMemoryBytes;
    if (limit !== undefined && needs > limit) {
      throw new ModelError('model_too_large', `the model ${this.model} needs about ${Math.ceil(needs / MIB)} MB with a ${contextSize}-token context, more than [models] max_memory_mb = ${Math.floor(limit / MIB)}: raise it or use a smaller model`);
    }
    const started = performance.now();
    this.options.onProgress?.(`loading ${this.model} (${Math.ceil(needs / MIB)} MB, ${contextSize}-token context)`);
    try {
      const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
      const context = await model.createContext({ contextSize, sequences: 1, ...(this.options.threads !== undefined ? { threads: this.options.threads } : {}) });
      const chat = new lib.LlamaChat({ contextSequence: context.getSequence() });
      const counter = this.coreCounter(model);
      this.options.onProgress?.(`loaded ${this.model} in ${Math.round(performance.now() - started)} ms`);
      return { model, context, chat, bytes: needs, lib, ...(counter ? { counter } : {}) };
    } catch (err) {
      throw new ModelError('model_load_failed', `could not load ${modelPath}: ${(err as Error).message}`);
    }
  }

  private coreCounter(model: LlamaModel): CoreCounter | undefined {
    const factory = this.options.tokenizers;
    if (!factory) return undefined;
    const meta = (model.fileInfo.metadata as { tokenizer?: { ggml?: GgufTokenizerMetadata } }).tokenizer?.ggml ?? {};
    const counter = coreTokenizerOf(factory, meta);
    if (typeof counter !== 'string') return counter;
    this.options.onProgress?.(`prompt tokens of ${this.model} are counted by llama.cpp: the core lacks its ${counter}`);
    return undefined;
  }

  /** Which tokenizer counts the prompts of the loaded model. */
  get promptCounter(): 'core' | 'llama.cpp' | undefined {
    return this.current ? (this.current.counter ? 'core' : 'llama.cpp') : undefined;
  }

  async unload(): Promise<void> {
    clearTimeout(this.idleTimer);
    const state = this.loadedState;
    this.loadedState = undefined;
    this.current = undefined;
    const loaded = await state?.catch(() => undefined);
    if (!loaded) return;
    loaded.chat.dispose();
    loaded.counter?.tokenizer.dispose();
    await loaded.context.dispose();
    await loaded.model.dispose();
  }

  /** Moving averages of the last answers' speeds, for the router's prediction. */
  speed(): { tokensPerSecond?: number; promptTokensPerSecond?: number } {
    return this.measured;
  }

  memoryBytes(): number {
    return this.current?.bytes ?? 0;
  }

  async contextLength(): Promise<number> {
    await this.load();
    return this.current!.context.contextSize;
  }

  async countTokens(messages: ChatMessage[]): Promise<number> {
    await this.load();
    // The router counts a request's messages before its attempt, and the attempt needs the count again.
    const known = this.counted.get(messages);
    if (known !== undefined) return known;
    const { model, chat, counter, lib } = this.current!;
    const { contextText } = chat.chatWrapper.generateContextState({ chatHistory: toHistory(messages, '') });
    const byCore = counter && !messages.some((m) => counter.leaveToLlama?.test(m.content));
    const tokens = byCore ? countTemplate(counter.tokenizer, templatePieces(contextText, lib, model)) : contextText.tokenize(model.tokenizer).length;
    this.counted.set(messages, tokens);
    return tokens;
  }

  /** llama.cpp's own count of the messages (the reference the core's count is tested against). */
  async countTokensWithLlama(messages: ChatMessage[]): Promise<number> {
    await this.load();
    const { model, chat } = this.current!;
    return chat.chatWrapper.generateContextState({ chatHistory: toHistory(messages, '') }).contextText.tokenize(model.tokenizer).length;
  }

  generate(request: GenerateRequest, onText: OnText): Promise<EngineResult> {
    return this.turns.run(() => this.generateNow(request, onText), () => this.scheduleIdleUnload());
  }

  private async generateNow(request: GenerateRequest, onText: OnText): Promise<EngineResult> {
    clearTimeout(this.idleTimer);
    await this.load();
    const { chat } = this.current!;
    const promptTokens = await this.countTokens(request.messages);
    const room = chat.context.contextSize - promptTokens;
    if (room <= 0) throw new ModelError('context_exceeded', `the prompt takes ${promptTokens} tokens; ${this.model}'s context holds ${chat.context.contextSize}`);
    // Each request starts from an empty context: no conversation carries over between callers.
    await chat.sequence.clearHistory();
    let completionTokens = 0;
    const started = performance.now();
    let firstAt: number | undefined;
    try {
      const response = await chat.generateResponse(toHistory(request.messages, request.prefix ?? ''), {
        maxTokens: Math.min(request.maxTokens, room),
        temperature: request.temperature,
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        ...(request.stop?.length ? { customStopTriggers: request.stop } : {}),
        ...(request.signal ? { signal: request.signal, stopOnAbortSignal: true } : {}),
        onToken: (tokens) => {
          firstAt ??= performance.now();
          completionTokens += tokens.length;
        },
        onTextChunk: (text) => onText(text),
      });
      this.measure(promptTokens, completionTokens, started, firstAt);
      const finishReason = response.metadata.stopReason === 'maxTokens' ? 'length' : 'stop';
      const stoppedBySequence = response.metadata.stopReason === 'customStopTrigger';
      return { text: response.response, finishReason, stoppedBySequence, promptTokens, completionTokens };
    } catch (err) {
      if (err instanceof ModelError) throw err;
      throw new ModelError('generation_failed', `${this.model} failed while generating: ${(err as Error).message}`);
    }
  }

  /** Prompt speed from the time to the first token; generation speed from the tokens after it. */
  private measure(promptTokens: number, completionTokens: number, started: number, firstAt: number | undefined): void {
    if (firstAt === undefined) return;
    const end = performance.now();
    const ewma = (old: number | undefined, sample: number) => (old === undefined ? sample : old + SPEED_ALPHA * (sample - old));
    if (firstAt > started) this.measured.promptTokensPerSecond = ewma(this.measured.promptTokensPerSecond, (promptTokens * 1000) / (firstAt - started));
    if (completionTokens > 1 && end > firstAt) this.measured.tokensPerSecond = ewma(this.measured.tokensPerSecond, ((completionTokens - 1) * 1000) / (end - firstAt));
  }

  private scheduleIdleUnload(): void {
    const idle = this.options.idleUnloadMs ?? DEFAULT_IDLE_UNLOAD_MS;
    if (idle <= 0 || this.turns.depth > 0 || !this.current) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.unload(), idle);
    this.idleTimer.unref();
  }
}

/** Our messages as node-llama-cpp's chat history, ending with the model turn to fill (empty, or the answer so far). */
function toHistory(messages: ChatMessage[], prefix: string): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === 'system' ? { type: 'system', text: m.content } : m.role === 'user' ? { type: 'user', text: m.content } : { type: 'model', response: [m.content] },
  );
  history.push({ type: 'model', response: prefix ? [prefix] : [] });
  return history;
}

/** A rendered template's values in the core counter's terms. */
function templatePieces(text: LlamaText, lib: typeof import('node-llama-cpp'), model: LlamaModel): TemplatePiece[] {
  return text.values.map((value): TemplatePiece => {
    if (typeof value === 'string') return value;
    if (value instanceof lib.SpecialTokensText) return { kind: 'special-text', text: value.value };
    return { kind: 'builtin', tokens: value.tokenize(model.tokenizer).length };
  });
}
