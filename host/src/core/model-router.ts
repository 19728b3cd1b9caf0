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
  tried: readonly { engine: EngineKind; failure: AttemptFailure }[];
}

export type ModelDecision =
  | { engine: EngineKind; reason: DecisionReason; firstTokenDeadlineMs?: number; predictedFirstTokenMs?: number }
  | { engine: 'none'; refusal: ModelRefusal };

export type DecideModel = (input: ModelDecisionInput) => ModelDecision;

const snake = <T extends string>(kebab: string): T => kebab.replaceAll('-', '_') as T;
const kebab = <T extends string>(snakeCase: string): T => snakeCase.replaceAll('_', '-') as T;

export function createModelRouter(raw: Raw): DecideModel {
  return (input) => {
    const rawInput: RawInput = { ...input, preferences: input.preferences ?? {}, tried: input.tried.map((t) => ({ engine: t.engine, failure: kebab(t.failure) })) };
    const decision = raw.decide(rawInput);
    if (decision.tag === 'refuse') return { engine: 'none', refusal: snake(decision.val) };
    const c = decision.val;
    return {
      engine: c.engine,
      reason: snake(c.reason),
      ...(c.firstTokenDeadlineMs !== undefined ? { firstTokenDeadlineMs: c.firstTokenDeadlineMs } : {}),
      ...(c.predictedFirstTokenMs !== undefined ? { predictedFirstTokenMs: c.predictedFirstTokenMs } : {}),
    };
  };
}
