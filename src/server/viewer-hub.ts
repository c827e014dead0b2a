import type { EncodedFrame, PipelineEvents } from '../pipeline/pipeline';
import type { TypedEmitter } from '../util/typed-emitter';

/** What the server needs from the pipeline to show pictures: its events and a way to ask for JPEGs. */
export interface LiveFeed {
  readonly events: TypedEmitter<PipelineEvents>;
  requestJpeg(): () => void;
}

export type ViewerKind = 'live' | 'mjpeg' | 'snapshot';

/** One consumer of annotated frames (a socket.io client, an MJPEG response, a snapshot request). */
export interface Viewer {
  readonly kind: ViewerKind;
  /**
   * Sends one frame. The viewer later calls hub.taken(viewer) once it can take another (the
   * client acknowledged it, the socket drained); until then it is skipped.
   */
  deliver(frame: EncodedFrame): void;
}

interface ViewerState {
  inFlight: boolean;
  paused: boolean;
}

/**
 * Fans each encoded frame out to the viewers that are ready for one. Per-client flow control:
 * a viewer that has not taken its last frame is skipped (it gets fewer frames; nothing is
 * queued for it and nobody waits for it). Each frame is encoded once, for all viewers, and only
 * while at least one viewer is ready: with no viewer, or only slow or paused ones, the
 * pipeline encodes nothing.
 */
export class ViewerHub {
  /** The newest encoded frame (one buffer), for snapshots. */
  latest: EncodedFrame | undefined;
  private readonly viewers = new Map<Viewer, ViewerState>();
  private readyCount = 0;
  private releaseDemand: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(private readonly feed: LiveFeed) {
    this.unsubscribe = feed.events.on('jpeg', (frame) => this.onFrame(frame));
  }

  add(viewer: Viewer): void {
    if (this.viewers.has(viewer)) return;
    this.viewers.set(viewer, { inFlight: false, paused: false });
    this.updateDemand();
  }

  remove(viewer: Viewer): void {
    if (!this.viewers.delete(viewer)) return;
    this.updateDemand();
  }

  /** The viewer has taken its last frame and can have the next. */
  taken(viewer: Viewer): void {
    const state = this.viewers.get(viewer);
    if (!state || !state.inFlight) return;
    state.inFlight = false;
    this.updateDemand();
  }

  /** Stops (true) or resumes (false) sending frames to a viewer without disconnecting it. */
  setPaused(viewer: Viewer, paused: boolean): void {
    const state = this.viewers.get(viewer);
    if (!state) return;
    state.paused = paused;
    this.updateDemand();
  }

  count(kind?: ViewerKind): number {
    if (!kind) return this.viewers.size;
    let n = 0;
    for (const v of this.viewers.keys()) if (v.kind === kind) n++;
    return n;
  }

  /** Viewers ready for a frame right now. */
  get ready(): number {
    return this.readyCount;
  }

  close(): void {
    this.unsubscribe();
    this.viewers.clear();
    this.updateDemand();
    this.latest = undefined;
  }

  private onFrame(frame: EncodedFrame): void {
    this.latest = frame;
    for (const [viewer, state] of this.viewers) {
      if (state.inFlight || state.paused) continue;
      state.inFlight = true;
      try {
        viewer.deliver(frame);
      } catch {
        // A viewer whose connection broke mid-send is gone; the others carry on.
        this.viewers.delete(viewer);
      }
    }
    this.updateDemand();
  }

  private updateDemand(): void {
    let ready = 0;
    for (const state of this.viewers.values()) if (!state.inFlight && !state.paused) ready++;
    this.readyCount = ready;
    if (ready > 0 && !this.releaseDemand) this.releaseDemand = this.feed.requestJpeg();
    else if (ready === 0 && this.releaseDemand) {
      this.releaseDemand();
      this.releaseDemand = undefined;
    }
  }
}
