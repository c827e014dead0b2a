export type Stage = 'read' | 'preprocess' | 'infer' | 'overlay' | 'encode';

/**
 * Running numbers of the pipeline: counters, frames per second over a sliding second, and an
 * exponential moving average per stage (recent frames weigh most; fixed memory).
 */
export class PipelineStats {
  captured = 0;
  classified = 0;
  dropped = 0;
  encoded = 0;
  readonly stageMs: Record<Stage, number> = { read: 0, preprocess: 0, infer: 0, overlay: 0, encode: 0 };
  /** Capture to decision, averaged like the stages. */
  latencyMs = 0;
  private readonly times = new Float64Array(64);
  private timesNext = 0;
  private timesFilled = 0;

  record(stage: Stage, ms: number): void {
    const prev = this.stageMs[stage];
    this.stageMs[stage] = prev === 0 ? ms : prev * 0.9 + ms * 0.1;
  }

  recordLatency(ms: number): void {
    this.latencyMs = this.latencyMs === 0 ? ms : this.latencyMs * 0.9 + ms * 0.1;
  }

  /** Marks one classified frame for the fps estimate. */
  tick(now = performance.now()): void {
    this.classified++;
    this.times[this.timesNext] = now;
    this.timesNext = (this.timesNext + 1) % this.times.length;
    if (this.timesFilled < this.times.length) this.timesFilled++;
  }

  /** Classified frames per second over the last (up to) 64 frames. */
  fps(now = performance.now()): number {
    if (this.timesFilled < 2) return 0;
    const newest = this.times[(this.timesNext - 1 + this.times.length) % this.times.length];
    const oldest = this.times[this.timesFilled < this.times.length ? 0 : this.timesNext];
    if (now - newest > 2000) return 0;
    return ((this.timesFilled - 1) * 1000) / Math.max(1e-6, newest - oldest);
  }

  snapshot(): { captured: number; classified: number; dropped: number; encoded: number; fps: number; latencyMs: number; stageMs: Record<Stage, number> } {
    return { captured: this.captured, classified: this.classified, dropped: this.dropped, encoded: this.encoded, fps: this.fps(), latencyMs: this.latencyMs, stageMs: { ...this.stageMs } };
  }
}
