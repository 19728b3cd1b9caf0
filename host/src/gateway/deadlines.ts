// The gateway's time limit on the requests of one MCP session
// (gateway.request_timeout_ms), without a timer per request. Every request of
// a session gets the same limit, so deadlines fall in the order the requests
// start: a queue in that order with one timer, set for its oldest open entry,
// replaces a setTimeout and a clearTimeout per tools/call. A released entry
// stays in the queue until it reaches the head (or the queue is compacted),
// so releasing costs nothing but a write.

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
    if (this.open === 0) this.clear();
    else this.dropReleased();
  }

  /** How many requests are timed now (tests). */
  get size(): number {
    return this.open;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(0, ms));
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
      if (this.open === 0) this.clear();
      else {
        this.dropReleased();
        this.arm(this.queue[this.head]!.at - performance.now());
      }
    }
  }

  /** Drops released entries at the head; compacts when released entries dominate the queue (one request much slower than the rest). */
  private dropReleased(): void {
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

  private clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.head = 0;
  }
}
