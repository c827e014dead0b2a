import type { Config } from '../config/schema';

export const UNCERTAIN = 'uncertain';

export interface RankedLabel {
  label: string;
  index: number;
  confidence: number;
}

export interface Decision {
  /** The label to show: the (smoothed) top label, or "uncertain" below the threshold. */
  label: string;
  /** Index of `label` in the model's labels, -1 when uncertain. */
  index: number;
  confidence: number;
  uncertain: boolean;
  /** Top-k of the scores the decision used (smoothed scores when averaging). */
  topk: RankedLabel[];
  /** This frame's own top label, before threshold and smoothing. */
  frameTop: RankedLabel;
}

export interface DecisionSettings {
  topK: number;
  threshold: number;
  smoothing: 'none' | 'average' | 'vote';
  window: number;
  votes: number;
}

/**
 * Turns per-frame scores into what the user sees: top-k, a confidence threshold below which
 * the answer is "uncertain", and temporal smoothing (moving average of scores, or N-of-M
 * voting on the top label) so a label does not flicker between frames. History lives in
 * fixed ring buffers sized by the window: nothing grows.
 */
export class DecisionMaker {
  private settings: DecisionSettings;
  private history!: Float32Array; // window x labels
  private topHistory!: Int32Array;
  private readonly sums: Float32Array;
  private readonly work: Float32Array;
  private filled = 0;
  private next = 0;

  constructor(readonly labels: readonly string[], settings: DecisionSettings) {
    this.settings = { ...settings };
    this.sums = new Float32Array(labels.length);
    this.work = new Float32Array(labels.length);
    this.allocate();
  }

  get current(): Readonly<DecisionSettings> {
    return this.settings;
  }

  /** Changes settings at run time (undefined fields keep their value); a new window or smoothing mode starts a fresh history. */
  update(settings: Partial<DecisionSettings>): void {
    const before = this.settings;
    const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
    this.settings = { ...before, ...defined };
    if (before.window !== this.settings.window || before.smoothing !== this.settings.smoothing) this.allocate();
  }

  reset(): void {
    this.filled = 0;
    this.next = 0;
    this.sums.fill(0);
  }

  decide(scores: ArrayLike<number>): Decision {
    const n = this.labels.length;
    if (scores.length !== n) throw new RangeError(`expected ${n} scores, got ${scores.length}`);
    const frameTop = this.best(scores);
    const { smoothing, threshold } = this.settings;

    let used: ArrayLike<number> = scores;
    let label = frameTop;
    if (smoothing !== 'none') this.remember(scores, frameTop.index);
    if (smoothing === 'average') {
      for (let i = 0; i < n; i++) this.work[i] = this.sums[i] / this.filled;
      used = this.work;
      label = this.best(this.work);
    } else if (smoothing === 'vote') {
      label = this.voteWinner(frameTop);
    }
    const uncertain = label.confidence < threshold || label.index < 0;
    return {
      label: uncertain ? UNCERTAIN : label.label,
      index: uncertain ? -1 : label.index,
      confidence: label.confidence,
      uncertain,
      topk: rankTop(used, this.labels, this.settings.topK),
      frameTop,
    };
  }

  private allocate(): void {
    const w = this.settings.window;
    this.history = new Float32Array(w * this.labels.length);
    this.topHistory = new Int32Array(w);
    this.reset();
  }

  private remember(scores: ArrayLike<number>, top: number): void {
    const n = this.labels.length;
    const w = this.settings.window;
    const base = this.next * n;
    if (this.filled === w) for (let i = 0; i < n; i++) this.sums[i] -= this.history[base + i];
    for (let i = 0; i < n; i++) {
      this.history[base + i] = scores[i];
      this.sums[i] += scores[i];
    }
    this.topHistory[this.next] = top;
    this.next = (this.next + 1) % w;
    if (this.filled < w) this.filled++;
  }

  /** The label that topped at least `votes` of the window's frames, with its mean score; else none. */
  private voteWinner(frameTop: RankedLabel): RankedLabel {
    const needed = Math.min(this.settings.votes, this.settings.window);
    let bestIndex = -1;
    let bestCount = 0;
    for (let k = 0; k < this.filled; k++) {
      const candidate = this.topHistory[k];
      let count = 0;
      for (let j = 0; j < this.filled; j++) if (this.topHistory[j] === candidate) count++;
      if (count > bestCount || (count === bestCount && candidate === frameTop.index)) {
        bestCount = count;
        bestIndex = candidate;
      }
    }
    if (bestIndex < 0 || bestCount < needed) return { label: UNCERTAIN, index: -1, confidence: 0 };
    return { label: this.labels[bestIndex], index: bestIndex, confidence: this.sums[bestIndex] / this.filled };
  }

  private best(scores: ArrayLike<number>): RankedLabel {
    let index = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i] > scores[index]) index = i;
    return { label: this.labels[index], index, confidence: scores[index] };
  }
}

/** The k highest scores with their labels, best first. */
export function rankTop(scores: ArrayLike<number>, labels: readonly string[], topK: number): RankedLabel[] {
  const k = Math.min(topK, scores.length);
  const out: RankedLabel[] = [];
  // Selection of the k largest: k is small (a handful) so this beats sorting every label.
  for (let r = 0; r < k; r++) {
    let index = -1;
    for (let i = 0; i < scores.length; i++) {
      if (out.some((o) => o.index === i)) continue;
      if (index < 0 || scores[i] > scores[index]) index = i;
    }
    out.push({ label: labels[index], index, confidence: scores[index] });
  }
  return out;
}

/** The decision settings of a resolved config (the daemon and predict read the same keys). */
export function decisionSettings(config: Config): DecisionSettings {
  return {
    topK: config['decision.topK'],
    threshold: config['decision.threshold'],
    smoothing: config['decision.smoothing'],
    window: config['decision.window'],
    votes: config['decision.votes'],
  };
}
