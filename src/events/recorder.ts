import { randomBytes } from 'node:crypto';
import type { FrameResult, FrameTap } from '../pipeline/pipeline';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { TypedEmitter } from '../util/typed-emitter';
import type { Mat } from '../vision/cv';
import { encodeJpeg } from '../vision/encoder';
import { drawOverlay } from '../vision/overlay';
import { BoundedQueue } from './bounded-queue';
import { EventCutter, type CutterSettings, type Run } from './event-cutter';
import type { EventStore } from './event-store';
import type { EventMessage, EventRecord } from './model';

export interface RecorderEvents extends Record<string, unknown> {
  /** An event started or ended; its record is saved (with its snapshots so far) before this goes out. */
  event: EventMessage;
  /** A new annotated snapshot: an event's best frame, or one asked for with snapshotNow(). */
  snapshot: { eventId: string | null; jpeg: Buffer };
}

export interface RecorderOptions {
  store: EventStore;
  cutter: CutterSettings;
  snapshots: boolean;
  jpegQuality: number;
  /** Snapshot and save jobs waiting at most (oldest dropped and counted). */
  queueSize?: number;
  log: Logger;
  model(): string;
  source(): string;
}

/** A frame's pixels kept by the recorder (a copy it owns) with the result they showed. */
interface KeptFrame {
  mat: Mat;
  result: FrameResult;
}

type Job = { kind: 'start' | 'end'; record: EventRecord; frame?: KeptFrame } | { kind: 'snapshot'; frame: KeptFrame; resolve(jpeg: Buffer): void; reject(err: Error): void };

/**
 * Turns the pipeline's classified frames into events: a FrameTap whose frame-path work is the
 * cutter's O(1) step plus, when a frame is its run's new best, keeping its pixels (the frame's
 * own Mat when the stream does not draw on it, else a copy; the previous best is freed). Encoding (on the thread pool),
 * drawing the annotated copy and writing files happen in a bounded job queue, off the frame path.
 */
export class EventRecorder implements FrameTap {
  readonly bus = new TypedEmitter<RecorderEvents>();
  readonly countsByLabel = new Map<string, number>();
  private readonly cutter: EventCutter;
  private readonly jobs: BoundedQueue<Job>;
  /** Best frame of the current run not yet handed to a job. */
  private best: KeptFrame | undefined;
  private open: EventRecord | undefined;
  private paused = false;
  private snapshotWanted: Array<{ resolve(jpeg: Buffer): void; reject(err: Error): void }> = [];
  /** What wants() said the current frame's pixels are for; take() follows it. */
  private pending: { snapshot: boolean; best: boolean; started: Run | undefined } = { snapshot: false, best: false, started: undefined };

  constructor(private readonly options: RecorderOptions) {
    this.cutter = new EventCutter(options.cutter);
    this.jobs = new BoundedQueue<Job>(options.queueSize ?? 32, (job) => this.work(job), (job) => {
      releaseKept('frame' in job ? job.frame : undefined);
      options.log.warn({ job: job.kind }, 'events: the save queue is full; the oldest job was dropped');
      if (job.kind === 'snapshot') job.reject(new Error('snapshot dropped: the events queue is full'));
    });
  }

  get droppedJobs(): number {
    return this.jobs.dropped;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get openEvent(): EventRecord | undefined {
    return this.open;
  }

  /**
   * The cutter's step for every classified frame; true when this frame's pixels are wanted (a
   * snapshot was asked for, or it is its run's new best). An event that starts on such a frame
   * begins in take(), once its best frame is there.
   */
  wants(result: FrameResult): boolean {
    this.pending = { snapshot: this.snapshotWanted.length > 0, best: false, started: undefined };
    if (this.paused) return this.pending.snapshot;
    const d = result.decision;
    const outcome = this.cutter.feed({ label: d.label, confidence: d.confidence, uncertain: d.uncertain, at: result.capturedAt });
    if (outcome.ended) this.finish(outcome.ended);
    if (!this.cutter.current) {
      releaseKept(this.best);
      this.best = undefined;
    }
    this.pending.best = outcome.peak && this.options.snapshots;
    if (outcome.started) {
      if (this.pending.best) this.pending.started = outcome.started;
      else this.begin(outcome.started, result);
    }
    return this.pending.snapshot || this.pending.best;
  }

  /** Keeps the pixels wanted() asked for: the asked-for snapshot and/or the run's new best frame. */
  take(mat: Mat, result: FrameResult): void {
    const { snapshot, best, started } = this.pending;
    if (snapshot) {
      const waiting = this.snapshotWanted;
      this.snapshotWanted = [];
      this.jobs.push({
        kind: 'snapshot',
        // The one Mat serves the best frame when both want it; the snapshot then gets a copy.
        frame: { mat: best ? mat.copy() : mat, result },
        resolve: (jpeg) => waiting.forEach((w) => w.resolve(jpeg)),
        reject: (err) => waiting.forEach((w) => w.reject(err)),
      });
    }
    if (best) {
      releaseKept(this.best);
      this.best = { mat, result };
      if (started) this.begin(started, result);
    }
  }

  /** Encodes the next classified frame (annotated) and resolves with its JPEG; also sent as a `snapshot`. */
  snapshotNow(timeoutMs = 5000): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.snapshotWanted = this.snapshotWanted.filter((w) => w !== waiter);
        reject(new Error(`no frame was classified within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (jpeg: Buffer) => {
          clearTimeout(timer);
          resolve(jpeg);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.snapshotWanted.push(waiter);
    });
  }

  /** While paused no event starts; an open one ends now. */
  setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (paused) this.endOpen();
    this.options.log.info(`events: ${paused ? 'paused' : 'resumed'}`);
  }

  /** Ends the open event (as interrupted), waits for the queue, frees kept pixels. */
  async close(): Promise<void> {
    this.endOpen(true);
    await this.jobs.idle();
    releaseKept(this.best);
    this.best = undefined;
    for (const w of this.snapshotWanted) w.reject(new Error('the daemon is stopping'));
    this.snapshotWanted = [];
  }

  idle(): Promise<void> {
    return this.jobs.idle();
  }

  private endOpen(interrupted = false): void {
    const run = this.cutter.flush();
    if (run) this.finish(run, interrupted);
    releaseKept(this.best);
    this.best = undefined;
  }

  private begin(run: Run, result: FrameResult): void {
    const record: EventRecord = {
      id: `ev-${run.startAt.toString(36)}-${randomBytes(3).toString('hex')}`,
      label: run.label,
      start: run.startAt,
      end: null,
      peakConfidence: round4(run.peak),
      best: { seq: this.best?.result.seq ?? result.seq, at: run.peakAt, confidence: round4(run.peak) },
      frames: run.frames,
      model: this.options.model(),
      source: this.options.source(),
      snapshots: { annotated: false, raw: false },
    };
    this.open = record;
    this.countsByLabel.set(run.label, (this.countsByLabel.get(run.label) ?? 0) + 1);
    const frame = this.best;
    this.best = undefined;
    this.jobs.push({ kind: 'start', record, frame });
  }

  private finish(run: Run, interrupted = false): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    const frame = this.best;
    this.best = undefined;
    const record: EventRecord = {
      ...open,
      end: run.lastAt,
      peakConfidence: round4(run.peak),
      best: frame ? { seq: frame.result.seq, at: run.peakAt, confidence: round4(run.peak) } : open.best,
      frames: run.frames,
      snapshots: { ...open.snapshots },
    };
    if (interrupted) record.interrupted = true;
    this.jobs.push({ kind: 'end', record, frame });
  }

  private async work(job: Job): Promise<void> {
    const { store, log } = this.options;
    if (job.kind === 'snapshot') {
      try {
        const { annotated } = await this.encode(job.frame, false);
        job.resolve(annotated);
        this.bus.emit('snapshot', { eventId: null, jpeg: annotated });
      } catch (err) {
        job.reject(new Error(errorMessage(err)));
      } finally {
        releaseKept(job.frame);
      }
      return;
    }
    const { record, frame } = job;
    let annotated: Buffer | undefined;
    const before = store.get(record.id);
    if (before) record.snapshots = { annotated: before.snapshots.annotated || record.snapshots.annotated, raw: before.snapshots.raw || record.snapshots.raw };
    try {
      if (frame) {
        const encoded = await this.encode(frame, true);
        annotated = encoded.annotated;
        await store.saveSnapshots(record, encoded.annotated, encoded.raw);
      } else {
        await store.save(record);
      }
    } catch (err) {
      log.error({ event: record.id, err: errorMessage(err) }, 'events: could not save an event');
    } finally {
      releaseKept(frame);
    }
    log.info({ event: record.id, label: record.label, phase: job.kind, peak: record.peakConfidence }, `event ${job.kind}: ${record.label}`);
    if (annotated) this.bus.emit('snapshot', { eventId: record.id, jpeg: annotated });
    this.bus.emit('event', { phase: job.kind, event: record });
  }

  private async encode(frame: KeptFrame, withRaw: boolean): Promise<{ annotated: Buffer; raw?: Buffer }> {
    const quality = this.options.jpegQuality;
    const raw = withRaw ? await encodeJpeg(frame.mat, quality) : undefined;
    // Drawn on the copy the recorder owns (a few small shapes and text on the main thread).
    drawOverlay(frame.mat, { decision: frame.result.decision, fps: 0, inferMs: frame.result.timings.infer });
    const annotated = await encodeJpeg(frame.mat, quality);
    return { annotated, raw };
  }
}

function releaseKept(frame: KeptFrame | undefined): void {
  frame?.mat.release();
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
