import { errorMessage } from '../util/errors';
import { cv } from '../vision/cv';
import { TypedEmitter } from '../util/typed-emitter';
import type { CapturedImage, FrameSource, SourceKind } from './frame-source';

export type SourceHealth =
  | { state: 'open'; description: string }
  | { state: 'reconnecting'; description: string; attempt: number; retryInMs: number; error: string }
  | { state: 'ended'; description: string };

export interface ResilienceOptions {
  /** A read that takes longer than this is a stalled capture: it is abandoned and the source reopened. */
  stallMs: number;
  /** The first source could not be opened (capture.retryAtStart): start down, reconnecting, with this error. */
  startDown?: string;
  /** The first source's open, still running when start-up went on: taken as the first reconnect attempt, without a wait. */
  opening?: Promise<FrameSource>;
  /** First wait before reopening; doubles per failed attempt up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Frames in a row that are empty or not 8-bit BGR before the source is treated as broken. */
  maxBadFrames?: number;
}

/**
 * Keeps a live source alive: read errors, stalls (no frame within stallMs) and runs of bad
 * frames close it and reopen a fresh one with backoff (1 s doubling to 30 s), reporting
 * "reconnecting, attempt n" through `events`. read() only ever returns a good frame, null at
 * the end of a finite source, or waits while reconnecting; nothing in here throws at the
 * pipeline. The first open is not retried: a source that never worked is a setup mistake
 * and start-up reports it.
 */
export class ResilientSource implements FrameSource {
  readonly events = new TypedEmitter<{ health: SourceHealth }>();
  /** Last time a frame arrived or a reconnect attempt was made: the watchdog's sign of life. */
  lastProgressAt = Date.now();
  private current: FrameSource | undefined;
  private attempt = 0;
  private badFrames = 0;
  private closed = false;
  private wakeSleeper: (() => void) | undefined;
  private lastError = '';
  private opening: Promise<FrameSource> | undefined;
  /** The source a reconnect attempt is opening. */
  private candidate: FrameSource | undefined;
  /** Reads still running, per source, so a stalled source is closed only after its read returns. */
  private readonly reads = new Map<FrameSource, Promise<CapturedImage | null>>();
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxBadFrames: number;

  constructor(
    private readonly first: FrameSource,
    private readonly rebuild: () => FrameSource,
    private readonly options: ResilienceOptions,
  ) {
    this.current = options.startDown === undefined ? first : undefined;
    this.lastError = options.startDown ?? '';
    this.minBackoffMs = options.minBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.maxBadFrames = options.maxBadFrames ?? 30;
    this.opening = options.opening;
    // Settled here so that a failure is never unhandled; reconnect() reads the outcome.
    this.opening?.catch(() => undefined);
  }

  get kind(): SourceKind {
    return this.first.kind;
  }

  get description(): string {
    return (this.current ?? this.first).description;
  }

  get paceFps(): number | undefined {
    return (this.current ?? this.first).paceFps;
  }

  get onDemand(): boolean | undefined {
    return (this.current ?? this.first).onDemand;
  }

  /** True while the source is down and being reopened. */
  get reconnecting(): boolean {
    return !this.closed && this.current === undefined;
  }

  /** The first source is opened by whoever built it; this is a no-op kept for the interface. */
  async open(): Promise<void> {}

  async read(): Promise<CapturedImage | null> {
    while (!this.closed) {
      const source = this.current ?? (await this.reconnect());
      if (!source) break;
      let image: CapturedImage | null;
      try {
        image = await this.readWithin(source);
      } catch (err) {
        this.drop(source, errorMessage(err));
        continue;
      }
      if (image === null) {
        this.events.emit('health', { state: 'ended', description: source.description });
        return null;
      }
      const { mat } = image;
      if (mat.empty || mat.type !== cv.CV_8UC3) {
        mat.release();
        if (++this.badFrames >= this.maxBadFrames) this.drop(source, `${this.badFrames} bad frames in a row (empty or not 8-bit BGR)`);
        continue;
      }
      this.badFrames = 0;
      this.lastProgressAt = Date.now();
      return image;
    }
    return null;
  }

  /**
   * Ends reading: a reconnect wait is cut short and read() returns null. A read still running
   * is given up to 2 s to return before its capture is released (releasing under a running
   * read can crash); one that does not return is left to process exit.
   */
  async close(): Promise<void> {
    this.closed = true;
    // An open still running (at start-up, see `opening`, or a reconnect attempt) is abandoned:
    // a source opening in its own process is killed rather than left to finish.
    const opening = this.candidate ?? (this.opening ? this.first : undefined);
    if (opening) void opening.close().catch(() => undefined);
    this.wakeSleeper?.();
    const source = this.current;
    this.current = undefined;
    if (!source) return;
    const pending = this.reads.get(source);
    if (pending) {
      const returned = await Promise.race([pending.then(() => true, () => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref())]);
      if (!returned) return;
    }
    await source.close();
  }

  /** A read that neither resolves nor fails within stallMs is abandoned (its capture closed once it settles). */
  private readWithin(source: FrameSource): Promise<CapturedImage | null> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const read = source.read();
      this.reads.set(source, read);
      const timer = setTimeout(() => {
        settled = true;
        reject(new Error(`no frame for ${Math.round(this.options.stallMs / 1000)} s (stalled)`));
      }, this.options.stallMs);
      read.then(
        (image) => {
          clearTimeout(timer);
          this.reads.delete(source);
          if (!settled) return resolve(image);
          // Arrived after we gave up on this capture: free it.
          image?.mat.release();
        },
        (err: unknown) => {
          clearTimeout(timer);
          this.reads.delete(source);
          if (!settled) reject(err);
        },
      );
    });
  }

  private drop(source: FrameSource, error: string): void {
    this.lastError = error;
    if (this.current === source) this.current = undefined;
    this.badFrames = 0;
    const pending = this.reads.get(source);
    if (!pending) return void source.close().catch(() => undefined);
    // Releasing an OpenCV capture while its read still runs on the thread pool can crash the
    // process, so a stalled capture is closed only once that read returns. One that never
    // returns stays open (the reconnect opens a fresh one): a leak of one handle beats a crash.
    void pending.then(
      () => source.close(),
      () => source.close(),
    ).catch(() => undefined);
  }

  private async reconnect(): Promise<FrameSource | undefined> {
    while (!this.closed) {
      this.attempt++;
      const retryInMs = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** (this.attempt - 1));
      this.lastProgressAt = Date.now();
      const opening = this.opening;
      this.opening = undefined;
      this.events.emit('health', { state: 'reconnecting', description: this.description, attempt: this.attempt, retryInMs: opening ? 0 : retryInMs, error: this.lastError });
      if (!opening) await this.sleep(retryInMs);
      if (this.closed) break;
      const candidate = opening ? this.first : this.rebuild();
      this.candidate = candidate;
      try {
        await (opening ?? candidate.open());
      } catch (err) {
        this.lastError = errorMessage(err);
        await candidate.close().catch(() => undefined);
        continue;
      } finally {
        this.candidate = undefined;
      }
      if (this.closed) {
        await candidate.close();
        break;
      }
      this.current = candidate;
      this.attempt = 0;
      this.lastProgressAt = Date.now();
      this.events.emit('health', { state: 'open', description: candidate.description });
      return candidate;
    }
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeSleeper = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
