import type { Mat } from '../vision/cv';

export type SourceKind = 'camera' | 'gstreamer' | 'url' | 'file' | 'images' | 'webcam' | 'demo';

export interface CapturedImage {
  mat: Mat;
  /** The true label when the source knows it (the demo scene does): lets accuracy be shown live. */
  truth?: string;
}

/**
 * Where frames come from. `open` fails with a SourceError naming the source and what was tried;
 * `read` returns the next frame as soon as it is decoded (the reader paces by `paceFps`) and returns
 * null once a finite source has ended.
 */
export interface FrameSource {
  readonly kind: SourceKind;
  /** What was opened, for logs and status: "camera /dev/video0 (V4L2, MJPG 640x480 @30)". */
  readonly description: string;
  /**
   * Rate at which the reader should take frames when the source does not pace itself (files,
   * image folders, the demo); undefined for live sources, whose driver sets the pace.
   */
  readonly paceFps: number | undefined;
  /**
   * True when frames wait to be read rather than arrive (a file read as fast as it is
   * classified): the reader then takes the next frame only when the last one was taken, and
   * drops none. A camera's frames arrive whether or not anyone is ready, so it is read freely.
   */
  readonly onDemand?: boolean;
  open(): Promise<void>;
  read(): Promise<CapturedImage | null>;
  close(): Promise<void>;
}

/**
 * Plays a file, a folder or the demo in real time, as a camera would deliver it: frame n is
 * due at start + n / fps. A frame read after the next one was already due is stale and is
 * skipped (a camera would have dropped it too), so a slow classifier makes playback skip
 * frames, never fall behind.
 */
export class Pacer {
  private start = 0;
  private count = 0;

  constructor(private readonly fps: number | undefined) {}

  reset(): void {
    this.count = 0;
  }

  /** Call once per frame read; true means skip this frame because its time has passed. */
  isStale(now = performance.now()): boolean {
    if (!this.fps) return false;
    if (this.count === 0) this.start = now;
    const interval = 1000 / this.fps;
    const behind = now - (this.start + this.count * interval);
    this.count++;
    // After a long stall (seconds), restart the clock rather than skip through a backlog.
    if (behind > 2000) {
      this.start = now;
      this.count = 1;
      return false;
    }
    return behind >= interval;
  }

  /** Waits until the next frame is due. */
  async wait(): Promise<void> {
    if (!this.fps) return;
    const due = this.start + (this.count * 1000) / this.fps;
    const delay = due - performance.now();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
