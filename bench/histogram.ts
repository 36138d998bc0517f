/**
 * A latency histogram with logarithmic buckets (1 % wide), small enough to
 * send between processes and merge: each load generator records its own,
 * the orchestrator adds them up before reading percentiles.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Values are microseconds; bucket 0 holds everything up to 1 µs. */
const BUCKETS = Math.ceil(Math.log(600e6) / LOG_GROWTH) + 1;

/** The wire form: [bucket, count] pairs for the non-empty buckets. */
export type HistogramData = [number, number][];

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;

  /** Records one latency in milliseconds. */
  record(ms: number): void {
    const micros = ms * 1000;
    const bucket = micros <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(micros) / LOG_GROWTH));
    this.counts[bucket]!++;
    this.count++;
  }

  /** Adds another histogram's counts to this one. */
  merge(data: HistogramData): this {
    for (const [bucket, count] of data) {
      this.counts[bucket]! += count;
      this.count += count;
    }
    return this;
  }

  /** The value (ms, bucket upper bound, so within 1 % above) under which `fraction` of the samples lie. */
  percentile(fraction: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.ceil(fraction * this.count);
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return GROWTH ** bucket / 1000;
    }
    return GROWTH ** (BUCKETS - 1) / 1000;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
  }

  toData(): HistogramData {
    const data: HistogramData = [];
    this.counts.forEach((count, bucket) => {
      if (count > 0) data.push([bucket, count]);
    });
    return data;
  }
}
