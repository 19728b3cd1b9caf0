// The models of one gateway: the local engine, the cloud engine, and the
// fallback between them. Each attempt's engine comes from the Rust core's model
// router (core/model-router.ts); this file only gathers its facts (exact prompt
// tokens, context, measured speed, queue, link), runs the attempt, and turns a
// failure into the next decision's input. Text streamed to the caller is never
// taken back: an engine that takes over mid-answer continues it.
import type { AttemptFailure, DecideModel, DecisionReason, EngineCosts, EngineKind, EnginePreferences, ModelDecisionInput, ModelRefusal, TokenPrices } from '../core/index.js';
import { costOf } from './costs.js';
import type { AnswerSampling } from '../providers/upstream/sampling.js';
import type { CloudEngineOptions } from './cloud-engine.js';
import { ModelCounters } from './metrics.js';
import { ModelError, type ChatMessage, type CloudEngine, type FinishReason, type LocalEngine } from './engine.js';
import { enginePreferences, type ModelPreferences } from './preferences.js';
import type { CompletionDeferral } from './deferral.js';
import { queuedAnswer, type QueuedAnswer } from './queued-answer.js';

export interface ModelSettings {
  /** The local .gguf file ([models] model_path, or local_model in the model cache); none without. */
  modelPath?: string;
  /** [models] tokenizer_path: an ONNX model's tokenizer.json (default: beside the model). */
  tokenizerPath?: string;
  /** [models] max_memory_mb: the local model and its context must fit. */
  maxMemoryMb?: number;
  /** [models] max_tokens: the most any request may generate. */
  maxTokens: number;
  /** [models] cloud_endpoint, cloud_api_key, cloud_model, cloud_timeout_ms. */
  cloud?: CloudEngineOptions;
  /** [models] fallback_threshold_ms: the local model's deadline for its first token when a cloud can take over. */
  fallbackThresholdMs?: number;
  /** [models] context_size: the local context's tokens. */
  contextSize?: number;
  /** [models] threads: the local model's CPU threads. */
  threads?: number;
  /** [models] answer_sampling: when the gateway answers an upstream's sampling with these models. */
  answerSampling: AnswerSampling;
  /** [models] generate_tool: offer the `generate` MCP tool. */
  generateTool: boolean;
  /** [models] cloud_cost_per_1k_prompt_tokens, cloud_cost_per_1k_completion_tokens, local_cost_per_1k_tokens; absent when none is set. */
  prices?: TokenPrices;
}

/** What a caller asks for (the npm API's gateway.models.generate and both HTTP routes). */
export interface CompletionRequest {
  messages: ChatMessage[];
  /** Capped by [models] max_tokens, which is also the default. */
  maxTokens?: number;
  /** Default 0: greedy. */
  temperature?: number;
  seed?: number;
  /** Texts that end the answer where they appear (MCP sampling's stopSequences). */
  stop?: string[];
  /** Which engine the caller prefers (MCP sampling's modelPreferences; docs/inference.md says how they weigh). */
  preferences?: ModelPreferences;
  signal?: AbortSignal;
  /** Try the cloud even while the link counts as down, once per request: the offline queue paces its own retries. */
  probeLink?: boolean;
  /** Each piece of text as it is generated, with the engine that generated it. */
  onText?: (text: string, by: { engine: EngineKind; model: string }) => void;
  /**
   * When only the unreachable cloud could serve: throw cloud_offline ("refuse",
   * the default), or queue the request in the offline queue and await its
   * answer there ("wait"; a queued answer is not streamed). generate() with
   * `offline: "queue"` returns a handle on the task instead (QueuedAnswer).
   */
  offline?: 'refuse' | 'wait';
}

/** A queued completion's handle (the npm API's `offline: "queue"`). */
export type QueuedCompletionAnswer = QueuedAnswer<CompletionAnswer>;

/** An attempt that did not serve the answer. */
export interface FallbackRecord {
  engine: EngineKind;
  model: string;
  failure: AttemptFailure;
  message: string;
  /** The wait the cloud asked for (its Retry-After), when it did. */
  retryAfterMs?: number;
}

export interface CompletionAnswer {
  text: string;
  /** The engine that finished the answer, and why it was chosen. */
  engine: EngineKind;
  model: string;
  reason: DecisionReason;
  /** Attempts before it, in order. */
  fallbacks: FallbackRecord[];
  finishReason: FinishReason;
  /** The answer ended at one of the request's stop texts (the cloud's API does not say, so it is false there). */
  stoppedBySequence: boolean;
  usage: { promptTokens: number; completionTokens: number };
  /** From the request to its first text, and to its end. */
  timings: { firstTokenMs: number | null; totalMs: number };
  /**
   * With [models] prices set: each engine's worst-case cost as the router
   * weighed it (prompt + max tokens), and what the serving engine's tokens
   * cost (its usage at its price).
   */
  cost?: { estimated: EngineCosts; actual: number };
}

const FAILURES: Record<ModelError['code'], AttemptFailure> = {
  context_exceeded: 'context_exceeded',
  cloud_unreachable: 'unreachable',
  cloud_timeout: 'unreachable',
  cloud_stream_broken: 'stream_broken',
  cloud_refused: 'failed',
  model_not_found: 'failed',
  model_too_large: 'failed',
  model_load_failed: 'failed',
  generation_failed: 'failed',
  no_engine: 'failed',
  cloud_offline: 'unreachable',
  bad_request: 'failed',
};

/** After the cloud was unreachable, requests go local (link_down) for this long before the cloud is tried again. */
const LINK_RETRY_MS = 10_000;

type Tried = { engine: EngineKind; failure: AttemptFailure }[];

interface LocalFacts {
  available: boolean;
  promptTokens?: number;
  contextLength?: number;
}

export class ModelService {
  /** When the cloud was last unreachable (performance.now()); undefined while the link is up. */
  private linkDownAt: number | undefined;
  /** Answers, fallbacks, tokens and first-token times for GET /metrics. */
  readonly counters = new ModelCounters();
  /** Queues a completion only the unreachable cloud could serve; set by the gateway when its offline queue runs. */
  deferral: CompletionDeferral | undefined;

  constructor(
    readonly settings: ModelSettings,
    readonly local: LocalEngine | undefined,
    readonly cloud: CloudEngine | undefined,
    private readonly decide: DecideModel,
  ) {}

  /** The cloud's link as the router sees it: down for LINK_RETRY_MS after it was unreachable. */
  get linkUp(): boolean {
    return this.linkDownAt === undefined || performance.now() - this.linkDownAt >= LINK_RETRY_MS;
  }

  /**
   * Generates an answer, falling back between engines as the core decides.
   * Throws ModelError when no engine can serve it; when only the unreachable
   * cloud could, `offline` says whether to queue it (see CompletionRequest).
   */
  generate(request: Omit<CompletionRequest, 'offline'> & { offline: 'queue' }): Promise<CompletionAnswer | QueuedCompletionAnswer>;
  generate(request: CompletionRequest): Promise<CompletionAnswer>;
  async generate(request: Omit<CompletionRequest, 'offline'> & { offline?: 'refuse' | 'wait' | 'queue' }): Promise<CompletionAnswer | QueuedCompletionAnswer> {
    try {
      const answer = await this.attempts(request);
      this.counters.record(answer);
      return answer;
    } catch (err) {
      this.counters.recordFailure();
      const mode = request.offline ?? 'refuse';
      if (mode === 'refuse' || !(err instanceof ModelError) || err.code !== 'cloud_offline') throw err;
      const queued = await this.queue(request, err);
      return mode === 'queue' ? queued : queued.answer(request.signal ? { signal: request.signal } : {});
    }
  }

  /** Puts a request only the unreachable cloud could serve in the offline queue; throws `refusal` (saying why) when it cannot. */
  private async queue(request: Omit<CompletionRequest, 'offline'>, refusal: ModelError): Promise<QueuedCompletionAnswer> {
    if (!this.deferral) throw new ModelError(refusal.code, `${refusal.message}; it could not be queued either: the offline queue is not running`);
    const { messages, maxTokens, temperature, seed, stop } = request;
    let taskId: string;
    try {
      ({ taskId } = await this.deferral.defer({ shape: 'answer', messages, ...definedOnly({ maxTokens, temperature, seed, stop }) }, undefined, refusal.retryAfterMs));
    } catch (err) {
      throw new ModelError(refusal.code, `${refusal.message}; it could not be queued either: ${(err as Error).message}`);
    }
    return queuedAnswer<CompletionAnswer>(this.deferral, taskId, `${refusal.message.replace(/: retry when the link is back$/, '')}; queued as task ${taskId}`);
  }

  /** Metrics in Prometheus text, empty when no model is configured. */
  metrics(): string {
    return this.local || this.cloud ? this.counters.render(this.local?.speed().tokensPerSecond) : '';
  }

  private async attempts(request: Omit<CompletionRequest, 'offline'>): Promise<CompletionAnswer> {
    if (request.messages.length === 0) throw new ModelError('bad_request', 'messages is empty: send at least one message');
    const started = performance.now();
    let firstTokenMs: number | null = null;
    let sofar = '';
    const tried: Tried = [];
    const fallbacks: FallbackRecord[] = [];
    const local = await this.localFacts(request.messages, tried, fallbacks);
    const preferences = enginePreferences(request.preferences, { ...(this.local ? { local: this.local.model } : {}), ...(this.cloud ? { cloud: this.cloud.model } : {}) });
    let estimated: EngineCosts | undefined;
    for (;;) {
      const decision = this.decide(this.decisionInput(local, request, tried, preferences));
      if (decision.engine === 'none') throw this.refusalError(decision.refusal, local, fallbacks);
      estimated ??= decision.estimatedCosts;
      const engine = decision.engine === 'local' ? this.local! : this.cloud!;
      const attempt = new AbortController();
      const signal = request.signal ? AbortSignal.any([request.signal, attempt.signal]) : attempt.signal;
      let live = true;
      let missedDeadline = false;
      const deadline = decision.firstTokenDeadlineMs;
      // A missed deadline moves on at once: the abandoned attempt stops when its engine next looks at the signal
      // (llama.cpp finishes the prompt batch it is evaluating first), and nothing it produces reaches the caller.
      let giveUp: (err: Error) => void = () => undefined;
      const missed = new Promise<never>((_, reject) => (giveUp = reject));
      const timer = deadline !== undefined ? setTimeout(() => {
        if (sofar !== '' || !live) return;
        missedDeadline = true;
        attempt.abort();
        giveUp(new ModelError('generation_failed', `no first token within fallback_threshold_ms = ${deadline} ms`));
      }, deadline) : undefined;
      try {
        const generation = engine.generate(
          { messages: request.messages, maxTokens: this.maxTokens(request), temperature: request.temperature ?? 0, signal, ...(request.seed !== undefined ? { seed: request.seed } : {}), ...(request.stop ? { stop: request.stop } : {}), ...(sofar ? { prefix: sofar } : {}), ...(request.probeLink ? { singleAttempt: true } : {}) },
          (text) => {
            if (!live || missedDeadline) return;
            firstTokenMs ??= performance.now() - started;
            sofar += text;
            request.onText?.(text, { engine: decision.engine, model: engine.model });
          },
        );
        generation.catch(() => undefined); // abandoned after a missed deadline: its failure is not this request's
        const result = await Promise.race([generation, missed]);
        if (missedDeadline) throw new ModelError('generation_failed', `no first token within fallback_threshold_ms = ${deadline} ms`);
        if (decision.engine === 'cloud') this.linkDownAt = undefined;
        const usage = { promptTokens: result.promptTokens, completionTokens: result.completionTokens };
        return {
          text: sofar,
          engine: decision.engine,
          model: engine.model,
          reason: decision.reason,
          fallbacks,
          finishReason: result.finishReason,
          stoppedBySequence: result.stoppedBySequence === true,
          usage,
          timings: { firstTokenMs, totalMs: performance.now() - started },
          ...(estimated && this.settings.prices ? { cost: { estimated, actual: costOf(this.settings.prices, decision.engine, usage) } } : {}),
        };
      } catch (err) {
        if (request.signal?.aborted) throw new ModelError('generation_failed', 'the request was cancelled');
        const failure: AttemptFailure = missedDeadline ? 'slow_first_token' : err instanceof ModelError ? FAILURES[err.code] : 'failed';
        if (decision.engine === 'cloud' && failure === 'unreachable') this.linkDownAt = performance.now();
        tried.push({ engine: decision.engine, failure });
        const retryAfter = err instanceof ModelError && err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {};
        fallbacks.push({ engine: decision.engine, model: engine.model, failure, message: (err as Error).message, ...retryAfter });
      } finally {
        live = false;
        clearTimeout(timer);
      }
    }
  }

  private decisionInput(local: LocalFacts, request: Omit<CompletionRequest, 'offline'>, tried: Tried, preferences: EnginePreferences | undefined): ModelDecisionInput {
    const speed = this.local?.speed() ?? {};
    return {
      local: { ...local, ...speed, queueDepth: this.local?.queueDepth ?? 0 },
      cloudConfigured: this.cloud !== undefined,
      linkUp: request.probeLink === true || this.linkUp,
      maxTokens: this.maxTokens(request),
      ...this.threshold(),
      // [power] low_power_mode is refused until it is built (config/unsupported.ts): always normal today.
      power: 'normal',
      ...(preferences ? { preferences } : {}),
      ...(this.settings.prices ? { prices: this.settings.prices } : {}),
      tried,
    };
  }

  /** The local model's facts for the decision: its exact prompt token count and context length (loading it on first use). */
  private async localFacts(messages: ChatMessage[], tried: Tried, fallbacks: FallbackRecord[]): Promise<LocalFacts> {
    if (!this.local) return { available: false };
    try {
      return { available: true, promptTokens: await this.local.countTokens(messages), contextLength: await this.local.contextLength() };
    } catch (err) {
      // A model that cannot load is a failed local attempt: the cloud, when there is one, takes it.
      tried.push({ engine: 'local', failure: 'failed' });
      fallbacks.push({ engine: 'local', model: this.local.model, failure: 'failed', message: (err as Error).message });
      return { available: false };
    }
  }

  /** Why no engine serves the request, in words for the user. */
  private refusalError(refusal: ModelRefusal, local: LocalFacts, fallbacks: FallbackRecord[]): ModelError {
    const last = fallbacks.at(-1);
    const because = last ? ` (${last.engine}: ${last.message})` : '';
    switch (refusal) {
      case 'no_model':
        return new ModelError('no_engine', 'no model is configured: set [models] model_path or local_model, and/or cloud_endpoint');
      case 'prompt_too_long':
        return new ModelError('no_engine', `the prompt takes ${local.promptTokens} tokens, more than the local model's context of ${local.contextLength}, and no [models] cloud_endpoint is set: shorten the prompt or configure a cloud`);
      case 'cloud_offline':
        return new ModelError('cloud_offline', `only the cloud can serve this request and it is unreachable${because}: retry when the link is back`, last?.retryAfterMs);
      case 'no_engine_left':
        return new ModelError('no_engine', `no engine could serve this request${because}`);
    }
  }

  private threshold(): { fallbackThresholdMs?: number } {
    return this.settings.fallbackThresholdMs !== undefined ? { fallbackThresholdMs: this.settings.fallbackThresholdMs } : {};
  }

  private maxTokens(request: Omit<CompletionRequest, 'offline'>): number {
    return Math.min(request.maxTokens ?? this.settings.maxTokens, this.settings.maxTokens);
  }

  /** What is loaded and how much memory it takes. */
  status(): { local?: { model: string; loaded: boolean; memory_bytes: number }; cloud?: { model: string } } {
    return {
      ...(this.local ? { local: { model: this.local.model, loaded: this.local.loaded, memory_bytes: this.local.memoryBytes() } } : {}),
      ...(this.cloud ? { cloud: { model: this.cloud.model } } : {}),
    };
  }

  async close(): Promise<void> {
    await this.local?.unload();
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
