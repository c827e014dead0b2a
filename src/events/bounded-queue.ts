/**
 * A FIFO worked by one async worker, holding at most `capacity` waiting items: pushing onto a
 * full queue drops the oldest waiting item (counted). The worker's failures are its own
 * business (it should catch); one that throws anyway is counted and the queue goes on.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private working = false;
  private idleWaiters: Array<() => void> = [];
  dropped = 0;
  processed = 0;
  failed = 0;
  private closed = false;

  constructor(
    readonly capacity: number,
    private readonly worker: (item: T) => Promise<void>,
    private readonly onDrop?: (item: T) => void,
  ) {}

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.closed) return;
    if (this.items.length >= this.capacity) {
      const old = this.items.shift()!;
      this.dropped++;
      this.onDrop?.(old);
    }
    this.items.push(item);
    if (!this.working) void this.drain();
  }

  /** Resolves when nothing is waiting or being worked on. */
  idle(): Promise<void> {
    if (!this.working && this.items.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking items; those waiting are dropped (not counted), the one in progress finishes. */
  close(): Promise<void> {
    this.closed = true;
    this.items.length = 0;
    return this.idle();
  }

  private async drain(): Promise<void> {
    this.working = true;
    while (this.items.length > 0) {
      const item = this.items.shift()!;
      try {
        await this.worker(item);
        this.processed++;
      } catch {
        this.failed++;
      }
    }
    this.working = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
