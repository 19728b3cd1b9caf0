// Latency as a fixed log-scale histogram: the same buckets everywhere, so two
// histograms merge by adding their counts (an hour's rows, many hours, many
// principals) and a percentile of the merge is as good as one of the samples
// would be, to within one bucket (about 9%). No samples are kept.

/** Bucket i (1..COUNT-2) holds latencies in [FLOOR_MS * GROWTH^(i-1), FLOOR_MS * GROWTH^i); 0 is below FLOOR_MS, the last is everything above. */
export const BUCKET_COUNT = 100;
const FLOOR_MS = 0.01;
/** 2^(1/4): four buckets per doubling; the top finite edge is FLOOR_MS * 2^24.5, about 4.7 minutes. */
const GROWTH = 2 ** 0.25;
const LOG_GROWTH = Math.log(GROWTH);

export type Histogram = Uint32Array;

export function emptyHistogram(): Histogram {
  return new Uint32Array(BUCKET_COUNT);
}

export function bucketOf(ms: number): number {
  if (!(ms >= FLOOR_MS)) return 0;
  const i = Math.floor(Math.log(ms / FLOOR_MS) / LOG_GROWTH) + 1;
  return Math.min(i, BUCKET_COUNT - 1);
}

/** The upper edge of bucket i, in ms (the overflow bucket reports its lower edge). */
function upperEdge(i: number): number {
  return FLOOR_MS * GROWTH ** Math.min(i, BUCKET_COUNT - 2);
}

export function addSample(h: Histogram, ms: number): void {
  h[bucketOf(ms)]! += 1;
}

/** Adds `from` into `into`. */
export function mergeInto(into: Histogram, from: Histogram): void {
  for (let i = 0; i < BUCKET_COUNT; i++) into[i]! += from[i]!;
}

/** The latency under which a fraction `q` (0..1] of the samples fall, as the upper edge of its bucket; null without samples. */
export function quantile(h: Histogram, q: number): number | null {
  let total = 0;
  for (const c of h) total += c;
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < BUCKET_COUNT; i++) {
    seen += h[i]!;
    if (seen >= rank) return Number(upperEdge(i).toPrecision(3));
  }
  return Number(upperEdge(BUCKET_COUNT - 1).toPrecision(3));
}

/** The stored form: the counts as little-endian uint32. */
export function encodeHistogram(h: Histogram): Buffer {
  const out = Buffer.alloc(BUCKET_COUNT * 4);
  for (let i = 0; i < BUCKET_COUNT; i++) out.writeUInt32LE(h[i]!, i * 4);
  return out;
}

/** Reads the stored form; a blob of another size (a future bucket layout) is refused rather than misread. */
export function decodeHistogram(blob: Buffer): Histogram {
  if (blob.length !== BUCKET_COUNT * 4) throw new Error(`latency histogram of ${blob.length} bytes; expected ${BUCKET_COUNT * 4}`);
  const h = emptyHistogram();
  for (let i = 0; i < BUCKET_COUNT; i++) h[i] = blob.readUInt32LE(i * 4);
  return h;
}
