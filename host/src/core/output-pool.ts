// Small outputs of the codec's direct lane are carved out of shared slabs,
// the way Node's Buffer pool serves small Buffers. Allocating an ArrayBuffer
// costs 2-3 us up to 16 KiB (V8 registers every backing store with the GC),
// more than decoding a 1 KB message takes; a copy into a slab costs 0.1-0.4
// us. Past 16 KiB the allocation is under a tenth of the decode, and outputs
// get their own buffer.
//
// What callers see: an output of up to POOLED_MAX bytes is a view whose
// `.buffer` is a slab shared with other small outputs (`byteOffset` tells
// where it starts). Views never overlap, so writing into one never touches
// another. A caller who needs an ArrayBuffer of its own (to transfer it to a
// worker, say) calls `.slice()`. Larger outputs get their own ArrayBuffer.

/** Outputs up to this size share slabs. */
export const POOLED_MAX = 16 * 1024;
/** A slab holds at least 8 pooled outputs; a retained small output keeps at most this much alive. */
const SLAB_SIZE = 128 * 1024;

export class OutputPool {
  private slab = new Uint8Array(0);
  private used = 0;

  /** A copy of `source` in memory the caller owns (a slab view when small). */
  copy(source: Uint8Array): Uint8Array {
    const length = source.length;
    if (length > POOLED_MAX) return source.slice();
    if (length === 0) return new Uint8Array(0);
    // A slab the caller transferred away (postMessage) is detached: length 0.
    if (this.used + length > this.slab.length) {
      this.slab = new Uint8Array(SLAB_SIZE);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + length);
    out.set(source);
    // 8-byte alignment, so callers can lay wider typed arrays over an output.
    this.used += (length + 7) & ~7;
    return out;
  }
}
