import type { PredictionRecord } from './wire';

/**
 * The most recent predictions in a fixed ring (server.historySize): GET /api/predictions reads
 * it; the oldest entry is overwritten, so memory stays flat however long the daemon runs.
 */
export class PredictionHistory {
  private readonly ring: Array<PredictionRecord | undefined>;
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array(capacity);
  }

  push(record: PredictionRecord): void {
    this.ring[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  latest(): PredictionRecord | undefined {
    return this.size ? this.ring[(this.next - 1 + this.capacity) % this.capacity] : undefined;
  }

  /** Records with seq greater than `since`, oldest first, at most `limit` (the newest ones when more match). */
  since(since: number, limit: number): PredictionRecord[] {
    const out: PredictionRecord[] = [];
    for (let i = 0; i < this.size && out.length < limit; i++) {
      const record = this.ring[(this.next - 1 - i + 2 * this.capacity) % this.capacity]!;
      if (record.seq <= since) break;
      out.push(record);
    }
    return out.reverse();
  }
}
