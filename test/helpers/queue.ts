// Helpers for the offline-queue tests.
import { z } from 'zod';
import { defineTool } from '../../host/src/index.js';
import { createLogger } from '../../host/src/telemetry/log.js';

/** SplitMix64 (as in the core), so a test's random choices replay from its seed. */
export class SplitMix {
  private state: bigint;
  constructor(seed: number) {
    this.state = BigInt(seed);
  }
  next(): bigint {
    this.state = BigInt.asUintN(64, this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
  /** An integer in 0..n-1. */
  below(n: number): number {
    return Number(this.next() % BigInt(n));
  }
}

export const silentLogger = createLogger('silent');

/** A destination's `record` tool: each call pushes its `n` to `effects`, so a test sees what ran, in order, and how often. */
export const recordTool = (effects: number[]) =>
  defineTool({
    name: 'record',
    description: 'Records call n.',
    input: z.object({ n: z.number().int() }),
    handler: ({ n }) => {
      effects.push(n);
      return { content: [{ type: 'text', text: `recorded ${n}` }] };
    },
  });
