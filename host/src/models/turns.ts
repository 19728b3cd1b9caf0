// One generation at a time on a local engine (one context, one session):
// requests take turns in the order they came, and a failed one does not hold
// up the next. `depth` is what the model router reads as the queue depth.
export class Turns {
  private last: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Requests waiting for their turn, the one running included. */
  get depth(): number {
    return this.waiting;
  }

  /** Runs `task` once every earlier one has ended; `ended` is called after it, whatever its outcome. */
  run<T>(task: () => Promise<T>, ended?: () => void): Promise<T> {
    this.waiting += 1;
    const run = this.last.then(task);
    this.last = run.catch(() => undefined).finally(() => {
      this.waiting -= 1;
      ended?.();
    });
    return run;
  }
}
