// The core's router through the component boundary: ranking, failover order,
// circuit breaking and typed errors.
import { describe, expect, it } from 'vitest';
import { CoreError, loadCore } from '../host/src/core/index.js';

const plain = { localityMs: 0, cost: 0, energy: 0 };

describe('core router', () => {
  it('ranks the faster replica first and keeps the others for failover', async () => {
    const router = (await loadCore()).createRouter();
    const slow = router.addProvider(plain);
    const fast = router.addProvider(plain);
    const tool = router.addTool([slow, fast]);
    for (let i = 0; i < 4; i++) {
      router.recordStart(tool, slow, 0);
      router.recordResult(tool, slow, 50, 'ok', 0);
      router.recordStart(tool, fast, 0);
      router.recordResult(tool, fast, 2, 'ok', 0);
    }
    expect([...router.select(tool, 1)]).toEqual([fast, slow]);
    expect(router.stats(fast, 1)).toMatchObject({ circuit: 'closed', calls: 4, failures: 0, inFlight: 0 });
  });

  it('opens the circuit of a failing provider and probes it after the cool-down', async () => {
    const router = (await loadCore()).createRouter({ failureThreshold: 2, openMs: 100 });
    const a = router.addProvider(plain);
    const tool = router.addTool([a]);
    for (let i = 0; i < 2; i++) {
      router.recordStart(tool, a, 10);
      router.recordResult(tool, a, 1, 'timeout', 10);
    }
    expect([...router.select(tool, 20)]).toEqual([]);
    expect(router.stats(a, 20).circuit).toBe('open');
    expect([...router.select(tool, 111)]).toEqual([a]);
    expect(router.stats(a, 111).circuit).toBe('half-open');
  });

  it('answers bad handles and options with typed errors', async () => {
    const core = await loadCore();
    const router = core.createRouter();
    expect(() => router.select(42)).toThrow(CoreError);
    try {
      router.addTool([7]);
      expect.unreachable();
    } catch (err) {
      expect((err as CoreError).code).toBe('unknown-provider');
    }
    expect(() => router.addProvider({ localityMs: -1, cost: 0, energy: 0 })).toThrow(/non-negative/);
    expect(() => core.createRouter({ latencyAlpha: 2 })).toThrow(/alphas/);
  });
});
