// The gateway's time limit on the requests its clients send
// (gateway.request_timeout_ms), without a timer per request. Every request
// gets the same limit, so deadlines fall in the order the requests start: one
// queue in that order for all sessions (deadlinesOf), with one timer set for
// its oldest entry, replaces a setTimeout and a clearTimeout per tools/call.
// A released entry stays in the queue until it reaches the head (or the queue
// is compacted), so releasing costs nothing but a write; the timer is left to
// run out when the queue empties (it then finds nothing to expire), so a
// gateway serving one call at a time does not set a timer per call either.

/** One request's place in the queue; `expire` is cleared once it is released or has run. */
export interface Deadline {
  readonly at: number;
  expire: (() => void) | undefined;
}

/** Entries dropped from the head before the queue's array is shortened. */
const SHIFT_AFTER = 1024;

export class Deadlines {
  private queue: Deadline[] = [];
  private head = 0;
  /** Entries neither released nor expired. */
  private open = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Inside fire(), which sets the timer itself once the expired entries have run. */
  private firing = false;

  constructor(private readonly ms: number) {}

  /** Runs `expire` once `ms` have passed, unless `release` is called first. */
  add(expire: () => void): Deadline {
    const deadline: Deadline = { at: performance.now() + this.ms, expire };
    this.queue.push(deadline);
    this.open++;
    if (!this.timer && !this.firing) this.arm(this.ms);
    return deadline;
  }

  /** The request ended in time: its `expire` will not run. */
  release(deadline: Deadline): void {
    if (!deadline.expire) return;
    deadline.expire = undefined;
    this.open--;
    this.dropReleased();
  }

  /** How many requests are timed now (tests). */
  get size(): number {
    return this.open;
  }

  /** Unref'd: an open request holds the process by its own connection; a timer left to run out must not. */
  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(0, ms));
    this.timer.unref();
  }

  /** Expires every entry whose time has come, then waits for the oldest open one. */
  private fire(): void {
    this.timer = undefined;
    this.firing = true;
    const now = performance.now();
    try {
      while (this.head < this.queue.length) {
        const deadline = this.queue[this.head]!;
        if (deadline.expire && deadline.at > now) break;
        this.head++;
        const expire = deadline.expire;
        if (!expire) continue;
        deadline.expire = undefined;
        this.open--;
        expire();
      }
    } finally {
      this.firing = false;
      this.dropReleased();
      if (this.open > 0) this.arm(this.queue[this.head]!.at - performance.now());
    }
  }

  /** Drops released entries at the head; compacts when released entries dominate the queue (one request much slower than the rest). */
  private dropReleased(): void {
    if (this.open === 0) {
      this.queue = [];
      this.head = 0;
      return;
    }
    while (this.head < this.queue.length && !this.queue[this.head]!.expire) this.head++;
    const kept = this.queue.length - this.head;
    if (kept > 2 * this.open + SHIFT_AFTER) {
      this.queue = this.queue.slice(this.head).filter((d) => d.expire);
      this.head = 0;
    } else if (this.head > SHIFT_AFTER) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

const shared = new Map<number, Deadlines>();

/** The process's queue for requests limited to `ms`: one for every session of a gateway. */
export function deadlinesOf(ms: number): Deadlines {
  let deadlines = shared.get(ms);
  if (!deadlines) shared.set(ms, (deadlines = new Deadlines(ms)));
  return deadlines;
}
