import type { EncodedFrame, PipelineEvents } from '../pipeline/pipeline';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import type { TypedEmitter } from '../util/typed-emitter';
import { mjpegAviChunks } from './avi';
import { BoundedQueue } from './bounded-queue';
import type { EventStore } from './event-store';
import type { EventMessage } from './model';

export interface ClipSettings {
  preSeconds: number;
  postSeconds: number;
  /** The event starts this long after its run did: the ring must reach back that far too. */
  minSeconds: number;
  fps: number;
  maxSeconds: number;
}

/** What the clip recorder needs of the pipeline: its encoded frames. */
export interface EncodedFeed {
  events: TypedEmitter<PipelineEvents>;
  requestJpeg(): () => void;
}

interface RingFrame {
  jpeg: Buffer;
  at: number;
  width: number;
  height: number;
}

interface Builder {
  id: string;
  frames: RingFrame[];
  /** Capture time after which the clip is complete (the event's end + postSeconds); unset while open. */
  endAt?: number;
  limit: number;
}

const MAX_BUILDERS = 3;

/**
 * Clips from a bounded ring of frames the pipeline has already encoded (the annotated stream
 * JPEGs, sampled at events.clipFps): on an event's start the ring's last preSeconds (+minSeconds)
 * open a clip, frames are added until postSeconds after its end (at most clipMaxSeconds), and
 * the clip is written as MJPEG in AVI on the thread pool. Keeping clips on holds the stream's
 * JPEG encoding on (stream.maxFps bounds it) while nobody watches.
 */
export class ClipRecorder {
  private ring: RingFrame[] = [];
  private ringBytes = 0;
  private lastKeptAt = 0;
  private readonly active: Builder[] = [];
  private readonly writes: BoundedQueue<Builder>;
  private release: (() => void) | undefined;
  private off: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  written = 0;
  dropped = 0;

  constructor(
    private readonly feed: EncodedFeed,
    private readonly store: EventStore,
    private readonly settings: ClipSettings,
    private readonly log: Logger,
  ) {
    this.writes = new BoundedQueue<Builder>(4, (b) => this.write(b), (b) => {
      this.dropped++;
      log.warn({ event: b.id }, 'clips: the write queue is full; the oldest clip was dropped');
    });
  }

  /** Bytes held in the ring now (for the measure script and status). */
  get ringMemory(): { frames: number; bytes: number } {
    return { frames: this.ring.length, bytes: this.ringBytes };
  }

  start(): void {
    this.release = this.feed.requestJpeg();
    this.off = this.feed.events.on('jpeg', (f) => this.onFrame(f));
    // A source that stops delivering frames must not hold a clip open forever.
    this.timer = setInterval(() => this.finishDue(Date.now()), 1000);
    this.timer.unref();
  }

  onEvent(message: EventMessage): void {
    const ev = message.event;
    if (message.phase === 'start') {
      const from = ev.start - this.settings.preSeconds * 1000;
      if (this.active.length >= MAX_BUILDERS) {
        const oldest = this.active.shift()!;
        this.finish(oldest);
      }
      this.active.push({ id: ev.id, frames: this.ring.filter((f) => f.at >= from), limit: Math.ceil((this.settings.preSeconds + this.settings.maxSeconds + this.settings.postSeconds) * this.settings.fps) });
    } else {
      const b = this.active.find((x) => x.id === ev.id);
      if (b) b.endAt = (ev.end ?? Date.now()) + this.settings.postSeconds * 1000;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.off?.();
    this.release?.();
    for (const b of this.active.splice(0)) this.writes.push(b);
    await this.writes.idle();
    this.ring = [];
    this.ringBytes = 0;
  }

  private onFrame(f: EncodedFrame): void {
    const at = f.result.capturedAt;
    // Sampled at clipFps (a little early is fine: a camera's frames jitter).
    if (at - this.lastKeptAt < 900 / this.settings.fps) return;
    this.lastKeptAt = at;
    const frame: RingFrame = { jpeg: f.jpeg, at, width: f.result.width, height: f.result.height };
    this.ring.push(frame);
    this.ringBytes += f.jpeg.length;
    const keepFrom = at - (this.settings.preSeconds + this.settings.minSeconds) * 1000 - 1000;
    while (this.ring.length && this.ring[0].at < keepFrom) this.ringBytes -= this.ring.shift()!.jpeg.length;
    for (const b of this.active) if ((b.endAt === undefined || at <= b.endAt) && b.frames.length < b.limit) b.frames.push(frame);
    this.finishDue(at);
  }

  private finishDue(now: number): void {
    for (const b of [...this.active]) if (b.endAt !== undefined && now > b.endAt) this.finish(b);
  }

  private finish(b: Builder): void {
    const i = this.active.indexOf(b);
    if (i >= 0) this.active.splice(i, 1);
    if (b.frames.length) this.writes.push(b);
  }

  private async write(b: Builder): Promise<void> {
    const frames = b.frames;
    const first = frames[0];
    const spanS = (frames[frames.length - 1].at - first.at) / 1000;
    // The rate the frames were really sampled at (the stream may give fewer than clipFps).
    const fps = Math.max(1, Math.min(this.settings.fps, Math.round(spanS > 0 ? (frames.length - 1) / spanS : this.settings.fps)));
    try {
      const parts = mjpegAviChunks(frames.map((f) => f.jpeg), first.width, first.height, fps);
      const saved = await this.store.saveClip(b.id, parts, { frames: frames.length, fps, seconds: Math.round((frames.length / fps) * 10) / 10, width: first.width, height: first.height });
      if (saved) this.written++;
    } catch (err) {
      this.log.error({ event: b.id, err: errorMessage(err) }, 'clips: could not write a clip');
    }
  }
}
