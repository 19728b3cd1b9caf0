// Helpers for the offline-queue tests.
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
