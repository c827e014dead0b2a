/** Median and 95th percentile of a set of samples. */
export interface Spread {
  median: number;
  p95: number;
}

/**
 * Samples of one measure with a fixed capacity, allocated once: recording is a store, not a
 * push, so measuring does not add garbage to the loop it measures. Beyond capacity the oldest
 * samples are overwritten.
 */
export class SampleSet {
  private readonly buffer: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(capacity = 65_536) {
    this.buffer = new Float64Array(capacity);
  }

  get count(): number {
    return this.filled;
  }

  add(value: number): void {
    this.buffer[this.next] = value;
    this.next = (this.next + 1) % this.buffer.length;
    if (this.filled < this.buffer.length) this.filled++;
  }

  clear(): void {
    this.next = 0;
    this.filled = 0;
  }

  /** A copy of the samples held. */
  values(): number[] {
    return Array.from(this.buffer.subarray(0, this.filled));
  }

  max(): number {
    let max = -Infinity;
    for (let i = 0; i < this.filled; i++) if (this.buffer[i] > max) max = this.buffer[i];
    return max;
  }

  spread(): Spread {
    return spreadOf(this.buffer.subarray(0, this.filled));
  }
}

export function spreadOf(values: ArrayLike<number>): Spread {
  if (values.length === 0) return { median: NaN, p95: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { median: at(0.5), p95: at(0.95) };
}
