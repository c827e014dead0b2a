/**
 * Counts failed sign-ins per client address and refuses an address that failed too often
 * within a window. Fixed memory: at most `maxAddresses` entries, the oldest evicted first.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 5 * 60_000,
    private readonly maxAddresses = 1024,
  ) {}

  /** Seconds until `address` may try again, or 0 when it may try now. */
  blockedFor(address: string, now = Date.now()): number {
    const entry = this.failures.get(address);
    if (!entry) return 0;
    const left = entry.windowStart + this.windowMs - now;
    if (left <= 0) {
      this.failures.delete(address);
      return 0;
    }
    return entry.count >= this.maxFailures ? Math.ceil(left / 1000) : 0;
  }

  recordFailure(address: string, now = Date.now()): void {
    const entry = this.failures.get(address);
    if (entry && now - entry.windowStart < this.windowMs) {
      entry.count++;
      return;
    }
    this.failures.delete(address);
    if (this.failures.size >= this.maxAddresses) this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(address, { count: 1, windowStart: now });
  }

  recordSuccess(address: string): void {
    this.failures.delete(address);
  }
}
