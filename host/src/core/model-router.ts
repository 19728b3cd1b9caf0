// Typed facade over the component's `model-router` interface: which engine (the
// local model or the cloud) serves the next attempt of a completion, and why.
// The host's names are snake_case (they appear in answers and metrics as is).
import type { Root } from './generated/edge-core.js';

type Raw = Root['modelRouter'];
type RawInput = Parameters<Raw['decide']>[0];

export type EngineKind = 'local' | 'cloud';
export type AttemptFailure = 'failed' | 'slow_first_token' | 'context_exceeded' | 'unreachable' | 'stream_broken';
export type DecisionReason =
  | 'local_first'
  | 'no_local_model'
  | 'prompt_exceeds_local_context'
  | 'answer_exceeds_local_context'
  | 'local_too_slow'
  | 'power_saver'
  | 'link_down'
  | 'model_hint'
  | 'intelligence_priority'
  | 'cost_priority'
  | 'local_failed'
  | 'local_slow_first_token'
  | 'cloud_unreachable'
  | 'cloud_stream_broken'
  | 'cloud_failed';
/** no_model: nothing configured; prompt_too_long: only the local model, too small; cloud_offline: only the unreachable cloud could serve; no_engine_left: all failed. */
export type ModelRefusal = 'no_model' | 'prompt_too_long' | 'cloud_offline' | 'no_engine_left';

/** What a caller prefers, weighed only when both engines can serve (wit/model-router.wit says how). */
export interface EnginePreferences {
  /** The engine a model hint named. */
  hinted?: EngineKind;
  costPriority?: number;
  speedPriority?: number;
  intelligencePriority?: number;
}

/** What tokens cost, per 1000, in the operator's own unit ([models] *_cost_per_1k_*); 0 where unset. */
export interface TokenPrices {
  cloudPromptPer1k: number;
  cloudCompletionPer1k: number;
  localPer1k: number;
}

/** Each engine's worst-case cost for a request (its prompt and maxTokens generated). */
export interface EngineCosts {
  local: number;
  cloud: number;
}

export interface ModelDecisionInput {
  local: {
    available: boolean;
    promptTokens?: number;
    contextLength?: number;
    tokensPerSecond?: number;
    promptTokensPerSecond?: number;
    queueDepth: number;
  };
  cloudConfigured: boolean;
  linkUp: boolean;
  maxTokens: number;
  fallbackThresholdMs?: number;
  power: 'normal' | 'saver';
  /** The caller's preferences (MCP sampling's modelPreferences); absent prefers nothing. */
  preferences?: EnginePreferences;
  /** Absent: no prices (cost first then means the local model). */
  prices?: TokenPrices;
  tried: readonly { engine: EngineKind; failure: AttemptFailure }[];
}

export type ModelDecision =
  | { engine: EngineKind; reason: DecisionReason; firstTokenDeadlineMs?: number; predictedFirstTokenMs?: number; estimatedCosts?: EngineCosts }
  | { engine: 'none'; refusal: ModelRefusal };

export type DecideModel = (input: ModelDecisionInput) => ModelDecision;

const NO_PRICES: TokenPrices = { cloudPromptPer1k: 0, cloudCompletionPer1k: 0, localPer1k: 0 };

const snake = <T extends string>(kebab: string): T => kebab.replaceAll('-', '_') as T;
const kebab = <T extends string>(snakeCase: string): T => snakeCase.replaceAll('_', '-') as T;

export function createModelRouter(raw: Raw): DecideModel {
  return (input) => {
    const rawInput: RawInput = { ...input, preferences: input.preferences ?? {}, prices: input.prices ?? NO_PRICES, tried: input.tried.map((t) => ({ engine: t.engine, failure: kebab(t.failure) })) };
    const decision = raw.decide(rawInput);
    if (decision.tag === 'refuse') return { engine: 'none', refusal: snake(decision.val) };
    const c = decision.val;
    return {
      engine: c.engine,
      reason: snake(c.reason),
      ...(c.firstTokenDeadlineMs !== undefined ? { firstTokenDeadlineMs: c.firstTokenDeadlineMs } : {}),
      ...(c.predictedFirstTokenMs !== undefined ? { predictedFirstTokenMs: c.predictedFirstTokenMs } : {}),
      ...(c.estimatedCosts !== undefined ? { estimatedCosts: c.estimatedCosts } : {}),
    };
  };
}
