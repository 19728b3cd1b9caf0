// Bounded restart backoff: the wait doubles per consecutive failure up to a
// ceiling. A crash-looping child (stdio) is given up on after max_restarts
// attempts; a remote server (http/sse) keeps being probed at the ceiling,
// since probing it costs no process.
import type { RestartPolicy } from '../../config/resolve.js';

export class Backoff {
  failures = 0;
  private upSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly policy: RestartPolicy) {}

  /** The upstream connected. */
  up(): void {
    this.upSince = Date.now();
  }

  /** The wait before the next attempt, or undefined to stop trying. */
  next(): number | undefined {
    if (this.upSince !== undefined && Date.now() - this.upSince >= this.policy.stableAfterMs) this.failures = 0;
    this.upSince = undefined;
    this.failures += 1;
    if (this.policy.giveUp && this.failures > this.policy.maxRestarts) return undefined;
    const exponent = Math.min(this.failures - 1, 30);
    return Math.min(this.policy.initialBackoffMs * 2 ** exponent, this.policy.maxBackoffMs);
  }

  schedule(delay: number, run: () => void): void {
    this.cancel();
    this.timer = setTimeout(run, delay);
    this.timer.unref();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
