import { UNCERTAIN } from '../pipeline/decision';

export interface CutterSettings {
  /** Labels of interest; empty: every label except uncertain. */
  labels: readonly string[];
  minSeconds: number;
  cooldownSeconds: number;
}

export interface DecisionPoint {
  label: string;
  confidence: number;
  uncertain: boolean;
  /** ms since the epoch (the frame's capture time). */
  at: number;
}

/** A run of one label of interest, and whether it has become an event. */
export interface Run {
  label: string;
  startAt: number;
  lastAt: number;
  peak: number;
  peakAt: number;
  frames: number;
  /** Became an event (announced by `started`). */
  open: boolean;
}

export interface CutOutcome {
  /** The run that ended on this decision and had become an event. */
  ended?: Run;
  /** The run that became an event on this decision. */
  started?: Run;
  /** This decision is the current run's new peak (its frame is the best so far). */
  peak: boolean;
}

/**
 * Cuts events out of the decision stream: a pure, O(1)-per-frame state machine (no I/O, no
 * timers), so it can run on the frame path. Memory: one run, and one end time per label seen.
 */
export class EventCutter {
  private run: Run | undefined;
  private readonly lastEnd = new Map<string, number>();
  private readonly interesting: Set<string> | undefined;

  constructor(private readonly settings: CutterSettings) {
    this.interesting = settings.labels.length ? new Set(settings.labels) : undefined;
  }

  get current(): Readonly<Run> | undefined {
    return this.run;
  }

  isOfInterest(label: string, uncertain: boolean): boolean {
    if (uncertain || label === UNCERTAIN) return false;
    return this.interesting ? this.interesting.has(label) : true;
  }

  feed(d: DecisionPoint): CutOutcome {
    const out: CutOutcome = { peak: false };
    const wanted = this.isOfInterest(d.label, d.uncertain);
    let run = this.run;
    if (run && (!wanted || run.label !== d.label)) {
      if (run.open) {
        out.ended = run;
        this.lastEnd.set(run.label, run.lastAt);
      }
      run = this.run = undefined;
    }
    if (!wanted) return out;
    if (!run) {
      run = this.run = { label: d.label, startAt: d.at, lastAt: d.at, peak: d.confidence, peakAt: d.at, frames: 1, open: false };
      out.peak = true;
    } else {
      run.lastAt = d.at;
      run.frames++;
      if (d.confidence > run.peak) {
        run.peak = d.confidence;
        run.peakAt = d.at;
        out.peak = true;
      }
    }
    if (!run.open && d.at - run.startAt >= this.settings.minSeconds * 1000 && d.at >= (this.lastEnd.get(run.label) ?? -Infinity) + this.settings.cooldownSeconds * 1000) {
      run.open = true;
      out.started = run;
    }
    return out;
  }

  /** Ends the open event, if any, at its last frame (the daemon stops, the recorder pauses). */
  flush(): Run | undefined {
    const run = this.run;
    this.run = undefined;
    if (run?.open) {
      this.lastEnd.set(run.label, run.lastAt);
      return run;
    }
    return undefined;
  }
}
