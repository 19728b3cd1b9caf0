// The router's per-call pair on the direct lane (host/src/core/direct-router.ts)
// against jco's bindings: the same rankings and statistics through a long
// sequence of calls, the same typed errors (an error always goes through
// jco), each router on its own rep, and no memory kept per call.
import { beforeAll, describe, expect, it } from 'vitest';
import { CoreError, compileFromDisk, loadCore, type CoreRouter, type EdgeCore } from '../host/src/core/index.js';
import { coreInstanceRecorder } from '../host/src/core/direct.js';
import { DirectRouter } from '../host/src/core/direct-router.js';
import { instantiate } from '../host/src/core/generated/edge-core.js';
import { outcome } from './helpers/core-lanes.js';

const plain = { localityMs: 0, cost: 0, energy: 0 };
let direct: EdgeCore;
let jco: EdgeCore;

beforeAll(async () => {
  [direct, jco] = await Promise.all([loadCore(), loadCore({ direct: false })]);
});


/** Three providers, two tools; returns the handles. */
function table(router: CoreRouter) {
  const providers = [router.addProvider(plain), router.addProvider({ localityMs: 3, cost: 0, energy: 0 }), router.addProvider(plain)];
  const tools = [router.addTool(providers), router.addTool([providers[2]!, providers[0]!])];
  return { providers, tools };
}

describe('router direct lane', () => {
  it('is on by default and can be turned off', () => {
    expect([direct.routerLane, jco.routerLane]).toEqual(['direct', 'jco']);
  });

  it('ranks, starts and records exactly like jco over a long sequence', () => {
    const [a, b] = [direct.createRouter({ failureThreshold: 3, openMs: 50 }), jco.createRouter({ failureThreshold: 3, openMs: 50 })];
    const [ta, tb] = [table(a), table(b)];
    expect(ta).toEqual(tb);
    const outcomes = ['ok', 'ok', 'error', 'timeout', 'ok'] as const;
    for (let i = 0; i < 400; i++) {
      const tool = ta.tools[i % 2]!;
      const now = i * 7;
      const order = [...a.begin(tool, now)];
      expect(order, `call ${i}`).toEqual([...b.begin(tool, now)]);
      if (order.length === 0) continue;
      const latency = ((i * 37) % 50) + 0.25;
      const result = outcomes[(i * 3 + order[0]!) % outcomes.length]!;
      a.recordResult(tool, order[0]!, latency, result, now + 1);
      b.recordResult(tool, order[0]!, latency, result, now + 1);
      for (const p of ta.providers) expect(a.stats(p, now + 1), `call ${i}, provider ${p}`).toEqual(b.stats(p, now + 1));
    }
  });

  it('gives the same typed errors as jco, and keeps serving after them', () => {
    const [a, b] = [direct.createRouter(), jco.createRouter()];
    const [ta] = [table(a), table(b)];
    const tool = ta.tools[0]!;
    expect(outcome(() => a.begin(tool, 1))).toEqual(outcome(() => b.begin(tool, 1)));
    const cases: [string, (r: CoreRouter) => unknown][] = [
      ['begin on an unknown tool', (r) => r.begin(99, 2)],
      ['a result for an unknown provider', (r) => r.recordResult(tool, 42, 1, 'ok', 2)],
      ['a result for a handle that is not a u32', (r) => r.recordResult(tool, -1, 1, 'ok', 2)],
    ];
    for (const [what, call] of cases) {
      const viaDirect = outcome(() => call(a));
      expect(viaDirect, what).toEqual(outcome(() => call(b)));
    }
    expect(() => a.begin(99, 2)).toThrow(CoreError);
    // A result for a tool that left the table still balances the provider, on both lanes.
    a.removeTool(tool);
    b.removeTool(tool);
    expect(outcome(() => a.recordResult(tool, ta.providers[0]!, 1, 'ok', 3))).toEqual(outcome(() => b.recordResult(tool, ta.providers[0]!, 1, 'ok', 3)));
    expect(a.stats(ta.providers[0]!, 3)).toEqual(b.stats(ta.providers[0]!, 3));
    expect([...a.begin(ta.tools[1]!, 4)]).toEqual([...b.begin(ta.tools[1]!, 4)]);
  });

  it("drives each router by its own rep, found on that router's first begin", async () => {
    const recorder = coreInstanceRecorder();
    const root = await instantiate(compileFromDisk, {}, recorder.instantiateCore);
    const lanes = DirectRouter.over(recorder.recordRouter());
    expect(lanes).toBeDefined();
    const routers = [root.router.Router.create({}), root.router.Router.create({})];
    const [one, two] = routers.map((raw, i) => {
      const p = [raw.addProvider(plain), raw.addProvider(plain)];
      // Different tables: router two offers its tool on its second provider only.
      const tool = raw.addTool(i === 0 ? new Uint32Array(p) : new Uint32Array([p[1]!]));
      const rep = lanes!.repOf(() => raw.begin(tool, 0n));
      expect(rep).toBeTypeOf('number');
      return { raw, tool, lane: lanes!.lane(rep!) };
    });
    expect(one!.lane.begin(one!.tool, 1n)).toEqual([1, 0]);
    expect(two!.lane.begin(two!.tool, 1n)).toEqual([1]);
    // The lane's starts show in jco's statistics of the same router, not the other's.
    expect(one!.raw.stats(1, 1n).inFlight).toBe(1);
    expect(two!.raw.stats(1, 1n).inFlight).toBe(2);
    expect(one!.lane.recordResult(one!.tool, 1, 5, 'ok', 2n)).toBe(true);
    expect(one!.raw.stats(1, 2n)).toMatchObject({ inFlight: 0, calls: 1n });
    // Refusals are left to jco.
    expect(one!.lane.begin(77, 3n)).toBeUndefined();
    expect(one!.lane.recordResult(one!.tool, 9, 1, 'ok', 3n)).toBe(false);
    // A call that never reaches the core's begin leaves no rep at all.
    expect(lanes!.repOf(() => undefined)).toBeUndefined();
  });

  it('keeps no memory per call: 200,000 begins with a long replica list', () => {
    const router = direct.createRouter();
    const providers = Array.from({ length: 64 }, () => router.addProvider(plain));
    const tool = router.addTool(providers);
    router.begin(tool, 0);
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 200_000; i++) {
      const order = router.begin(tool, i);
      router.recordResult(tool, order[0]!, 1, 'ok', i);
    }
    // 200,000 lists of 64 u32s left unfreed in the core would hold 51 MB of wasm memory.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(30 << 20);
    expect(router.begin(tool, 200_000)).toHaveLength(64);
  });
});
