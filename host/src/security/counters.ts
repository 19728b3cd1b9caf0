// Refusal counters for /metrics, labelled by names that clients choose
// (principal ids, tool names). Bounded: past `max` label sets, new ones are
// counted under "_other", so a client inventing names cannot grow memory or
// the metrics page.

export const OTHER_LABEL = '_other';

export class LabelledCounter<L extends string> {
  private readonly counts = new Map<string, { labels: Record<L, string>; n: number }>();
  constructor(
    private readonly labelNames: readonly L[],
    private readonly max = 1000,
  ) {}

  add(labels: Record<L, string>): void {
    let key = this.labelNames.map((l) => labels[l]).join('\u0000');
    if (!this.counts.has(key) && this.counts.size >= this.max) {
      labels = Object.fromEntries(this.labelNames.map((l) => [l, OTHER_LABEL])) as Record<L, string>;
      key = this.labelNames.map(() => OTHER_LABEL).join('\u0000');
    }
    const entry = this.counts.get(key);
    if (entry) entry.n += 1;
    else this.counts.set(key, { labels, n: 1 });
  }

  samples(): [Record<string, string>, number][] {
    return [...this.counts.values()].map((e) => [e.labels, e.n]);
  }

  get size(): number {
    return this.counts.size;
  }
}
