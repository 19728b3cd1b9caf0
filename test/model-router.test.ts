// The core's model router through the component boundary: the host's snake_case
// names cross as WIT enums and come back, options stay absent when absent.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DecideModel, type ModelDecisionInput } from '../host/src/core/index.js';

let decide: DecideModel;
beforeAll(async () => {
  decide = (await loadCore()).decideModel;
});

const base: ModelDecisionInput = {
  local: { available: true, promptTokens: 30, contextLength: 512, queueDepth: 0 },
  cloudConfigured: true,
  linkUp: true,
  maxTokens: 64,
  fallbackThresholdMs: 800,
  power: 'normal',
  tried: [],
};

describe('model router (Rust core)', () => {
  it('starts local with the threshold as the first-token deadline, and no prediction before any measurement', () => {
    expect(decide(base)).toEqual({ engine: 'local', reason: 'local_first', firstTokenDeadlineMs: 800 });
  });

  it('crosses prices in and both engines\' estimated costs out; cost first then takes the cheaper', () => {
    const prices = { cloudPromptPer1k: 0.5, cloudCompletionPer1k: 1.5, localPer1k: 2 };
    const costFirst = { ...base, preferences: { costPriority: 1 }, prices };
    const decided = decide(costFirst);
    expect(decided).toMatchObject({ engine: 'cloud', reason: 'cost_priority' });
    const costs = (decided as { estimatedCosts?: { local: number; cloud: number } }).estimatedCosts!;
    expect(costs.local).toBeCloseTo(((30 + 64) / 1000) * 2, 12);
    expect(costs.cloud).toBeCloseTo((30 / 1000) * 0.5 + (64 / 1000) * 1.5, 12);
    expect(decide({ ...costFirst, prices: { ...prices, localPer1k: 0 } })).toMatchObject({ engine: 'local', reason: 'cost_priority' });
    expect(decide({ ...base, preferences: { costPriority: 1 } })).toEqual({ engine: 'local', reason: 'cost_priority' });
  });

  it('sends a prompt that fills the local context to the cloud, and refuses it without one', () => {
    const long = { ...base, local: { ...base.local, promptTokens: 512 } };
    expect(decide(long)).toEqual({ engine: 'cloud', reason: 'prompt_exceeds_local_context' });
    expect(decide({ ...long, cloudConfigured: false })).toEqual({ engine: 'none', refusal: 'prompt_too_long' });
    expect(decide({ ...long, linkUp: false })).toEqual({ engine: 'none', refusal: 'cloud_offline' });
  });

  it('predicts the local wait from measured speed and queue depth', () => {
    const busy = { ...base, local: { ...base.local, tokensPerSecond: 64, promptTokensPerSecond: 300, queueDepth: 1 } };
    // One request ahead: 64 tokens at 64/s = 1000 ms, plus 30 prompt tokens at 300/s = 100 ms, > 800 ms.
    expect(decide(busy)).toEqual({ engine: 'cloud', reason: 'local_too_slow', predictedFirstTokenMs: 1100 });
    expect(decide({ ...busy, linkUp: false })).toMatchObject({ engine: 'local', reason: 'link_down', predictedFirstTokenMs: 1100 });
    expect(decide({ ...busy, linkUp: false })).not.toHaveProperty('firstTokenDeadlineMs'); // nothing could take over
  });

  it('carries failures across the boundary: each fallback names its cause', () => {
    expect(decide({ ...base, tried: [{ engine: 'local', failure: 'slow_first_token' }] })).toEqual({ engine: 'cloud', reason: 'local_slow_first_token' });
    expect(decide({ ...base, tried: [{ engine: 'local', failure: 'slow_first_token' }, { engine: 'cloud', failure: 'stream_broken' }] })).toEqual({ engine: 'local', reason: 'cloud_stream_broken' });
    expect(decide({ ...base, tried: [{ engine: 'local', failure: 'context_exceeded' }, { engine: 'cloud', failure: 'unreachable' }] })).toEqual({ engine: 'none', refusal: 'no_engine_left' });
    expect(decide({ ...base, power: 'saver' })).toEqual({ engine: 'cloud', reason: 'power_saver' });
  });

  it("weighs the caller's preferences across the boundary: a hint, then the leading priority", () => {
    expect(decide({ ...base, preferences: { hinted: 'cloud' } })).toEqual({ engine: 'cloud', reason: 'model_hint' });
    expect(decide({ ...base, preferences: { hinted: 'local', intelligencePriority: 1 } })).toEqual({ engine: 'local', reason: 'model_hint', firstTokenDeadlineMs: 800 });
    expect(decide({ ...base, preferences: { costPriority: 0.2, intelligencePriority: 0.9 } })).toEqual({ engine: 'cloud', reason: 'intelligence_priority' });
    // Cost first: local, and no deadline that would hand it to the paid cloud.
    expect(decide({ ...base, preferences: { costPriority: 0.9, speedPriority: 0.5 } })).toEqual({ engine: 'local', reason: 'cost_priority' });
    expect(decide({ ...base, preferences: { speedPriority: 0.9, intelligencePriority: 0.5 } })).toEqual(decide(base));
    // A hint never beats a hard limit: the cloud's link is down.
    expect(decide({ ...base, linkUp: false, preferences: { hinted: 'cloud' } })).toEqual({ engine: 'local', reason: 'link_down' });
  });
});
