// The requests under way on one upstream transport (lean-http.ts), aborted
// when it closes.
//
// Not a Set: V8 replaces a Set's (or a Map's) hash table as entries come and
// go, and a replaced table keeps its entries and a pointer to the table that
// replaced it. Once one replaced table has been promoted to the old
// generation, the scavenger keeps every later table alive through it, and
// every request they held with everything the request reaches, until the
// next full collection. A Set that every call enters and leaves did that:
// the upstream client alone promoted ~1.25 KB per tools/call with it, ~0.44
// KB without (bench/gateway/README.md, "alloc"), and the gateway's
// scavenges, promoting megabytes each, paused it for 6-10 ms. Slots in an
// array, reused through a list of free ones, let a request go as it ends and
// never chain.

export interface Abortable {
  abort(reason: Error): void;
}

export class InFlight {
  private slots: (Abortable | undefined)[] = [];
  private free: number[] = [];

  /** Holds `request` until `delete` with the slot returned here. */
  add(request: Abortable): number {
    const slot = this.free.pop() ?? this.slots.length;
    this.slots[slot] = request;
    return slot;
  }

  /** Lets `request` go (nothing when the slot no longer holds it: aborted meanwhile). */
  delete(slot: number, request: Abortable): void {
    if (this.slots[slot] !== request) return;
    this.slots[slot] = undefined;
    this.free.push(slot);
  }

  /** Aborts every request under way and forgets them. */
  abortAll(reason: Error): void {
    const held = this.slots;
    this.slots = [];
    this.free = [];
    for (const request of held) request?.abort(reason);
  }

  /** Requests under way (tests). */
  get size(): number {
    return this.slots.length - this.free.length;
  }
}
