import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import type { FrameResult, FrameTap } from '../pipeline/pipeline';
import { DatasetRequestError, errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { cv, type Mat } from '../vision/cv';
import { checkFolder, checkLabel, checkSampleName, UNLABELLED } from './labels';
import type { DatasetStore } from './store';
import type { CaptureJob, CaptureRequest, DatasetNotice, DatasetSummary, DatasetView, SampleInfo, SamplePage, SampleRecord } from './types';
import { writeZip, type ZipEntry } from './zip-export';

export interface DatasetSettings {
  maxSide: number;
  jpegQuality: number;
  maxBurst: number;
  hardExamples: boolean;
  hardThreshold: number;
  hardOnFlip: boolean;
  hardEverySeconds: number;
}

export interface DatasetContext {
  /** The model serving now. */
  model(): { name: string; version: string };
  /** The source as the user named it. */
  source(): string;
  notify(notice: DatasetNotice): void;
}

/** Frames being encoded and written at once: more are not taken (the stream never waits for disk). */
const MAX_SAVES_IN_FLIGHT = 2;
/** A burst waits this long at most for frames (a source that stopped delivering). */
const BURST_FRAME_WAIT_MS = 10_000;
const THUMB_SIDE = 160;
const THUMB_CACHE = 256;
const MAX_THUMBS_AT_ONCE = 2;
const MAX_THUMBS_WAITING = 64;
export const DEFAULT_PAGE_SIZE = 48;

interface RunningJob {
  job: CaptureJob;
  /** Frames handed to a save, finished or not. */
  taken: number;
  /** Saves that failed for other reasons than space (those frames are taken again). */
  failures: number;
  nextDueAt: number;
  samples: SampleInfo[];
  lastFrameAt: number;
  done: Promise<void>;
  finish(): void;
  watchdog?: NodeJS.Timeout;
}

/**
 * Keeps raw frames for a dataset: capture requests (one, a burst, or one every N seconds) and,
 * when configured, hard examples (low confidence, or the label changed). It is the pipeline's
 * frame tap: on the frame path it only answers "do I want this frame" and takes the pixels;
 * resizing, JPEG encoding (both on the thread pool) and the write happen afterwards, at most
 * MAX_SAVES_IN_FLIGHT at a time. Also the DatasetView the server reads and changes the dataset by.
 */
export class DatasetService implements FrameTap, DatasetView {
  private running: RunningJob | undefined;
  private lastJob: CaptureJob | undefined;
  private jobIds = 0;
  private inFlight = 0;
  private previousLabel: string | undefined;
  private lastHardAt = Number.NEGATIVE_INFINITY;
  /** What the next take() is for: set by wants(), which the pipeline calls just before. */
  private pending: { kind: 'capture' } | { kind: 'hard'; reason: string } | undefined;
  private full: string | undefined;
  private lastSampleBytes = 0;
  private readonly thumbs = new Map<string, Buffer>();
  private thumbsRunning = 0;
  private readonly thumbQueue: Array<() => void> = [];
  private closed = false;

  constructor(
    readonly store: DatasetStore,
    private readonly settings: DatasetSettings,
    private readonly context: DatasetContext,
    private readonly log: Logger,
  ) {}

  // ---- the frame tap (main thread, per classified frame: cheap checks only) ----

  wants(result: FrameResult): boolean {
    const label = result.decision.label;
    const flipped = this.previousLabel !== undefined && label !== this.previousLabel;
    this.previousLabel = label;
    this.pending = undefined;
    if (this.closed || this.inFlight >= MAX_SAVES_IN_FLIGHT) return false;
    const run = this.running;
    const now = performance.now();
    if (run) {
      run.lastFrameAt = now;
      if (run.taken < run.job.count && now >= run.nextDueAt) {
        this.pending = { kind: 'capture' };
        return true;
      }
    }
    const s = this.settings;
    if (!s.hardExamples || this.full || now - this.lastHardAt < s.hardEverySeconds * 1000) return false;
    const { confidence } = result.decision;
    let reason: string | undefined;
    if (confidence < s.hardThreshold) reason = `confidence ${confidence.toFixed(2)} under ${s.hardThreshold}`;
    else if (s.hardOnFlip && flipped) reason = `label changed to ${label}`;
    if (!reason) return false;
    this.lastHardAt = now;
    this.pending = { kind: 'hard', reason };
    return true;
  }

  take(mat: Mat, result: FrameResult): void {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) {
      mat.release();
      return;
    }
    const run = pending.kind === 'capture' ? this.running : undefined;
    if (pending.kind === 'capture') {
      if (!run) {
        mat.release();
        return;
      }
      run.taken++;
      if (run.job.everySeconds) run.nextDueAt = performance.now() + run.job.everySeconds * 1000;
    }
    const label = run ? run.job.label : UNLABELLED;
    this.inFlight++;
    void this.save(mat, result, label, pending.kind === 'hard' ? pending.reason : undefined)
      .then(
        (sample) => this.saved(sample, run),
        (err: unknown) => this.saveFailed(err, run),
      )
      .finally(() => this.inFlight--);
  }

  /** Downscales (thread pool), encodes (thread pool), writes; the Mat is released whatever happens. */
  private async save(mat: Mat, result: FrameResult, label: string, reason: string | undefined): Promise<SampleInfo> {
    let small: Mat | undefined;
    let jpeg: Buffer;
    let width = mat.cols;
    let height = mat.rows;
    try {
      const { maxSide, jpegQuality } = this.settings;
      const longest = Math.max(width, height);
      if (maxSide > 0 && longest > maxSide) {
        const scale = maxSide / longest;
        width = Math.max(1, Math.round(width * scale));
        height = Math.max(1, Math.round(height * scale));
        small = await mat.resizeAsync(height, width, 0, 0, cv.INTER_AREA);
      }
      jpeg = await cv.imencodeAsync('.jpg', small ?? mat, [cv.IMWRITE_JPEG_QUALITY, jpegQuality]);
    } finally {
      small?.release();
      mat.release();
    }
    const time = new Date();
    const name = `${stamp(time)}-${String(result.seq).padStart(7, '0')}-${crypto.randomBytes(2).toString('hex')}.jpg`;
    const d = result.decision;
    const record: Omit<SampleRecord, 'file' | 'label' | 'bytes'> = {
      time: time.toISOString(),
      kind: reason ? 'hard' : 'capture',
      ...(reason ? { reason } : {}),
      source: this.context.source(),
      seq: result.seq,
      ...(result.truth !== undefined ? { truth: result.truth } : {}),
      width,
      height,
      model: this.context.model(),
      prediction: { label: d.label, confidence: round4(d.confidence), uncertain: d.uncertain, frameTop: { label: d.frameTop.label, confidence: round4(d.frameTop.confidence) } },
    };
    return this.store.add(label, name, jpeg, record);
  }

  private saved(sample: SampleInfo, run: RunningJob | undefined): void {
    this.lastSampleBytes = sample.bytes;
    if (run) {
      run.job.saved++;
      run.samples.push(sample);
    }
    this.context.notify({ type: 'sample', sample, job: run ? { ...run.job } : undefined });
    if (run && run.job.saved >= run.job.count) this.endJob(run, 'done');
  }

  private saveFailed(err: unknown, run: RunningJob | undefined): void {
    if (err instanceof DatasetRequestError && err.status === 507) {
      this.stopForSpace(err.message);
      if (run) this.endJob(run, 'full', err.message);
      return;
    }
    this.log.error({ err: errorMessage(err) }, 'dataset: sample not saved');
    if (!run) return;
    run.failures++;
    run.taken--;
    if (run.failures >= 3) this.endJob(run, 'failed', `samples could not be saved: ${errorMessage(err)}`);
  }

  private stopForSpace(message: string): void {
    if (this.full === message) return;
    this.full = message;
    this.log.warn(`dataset capture stopped: ${message}`);
    this.context.notify({ type: 'full', message });
  }

  /**
   * Whether a sample fits: after a refusal, one as large as the refused one must fit before
   * capture goes on (so the "full" state does not flap); clears it when one does again.
   */
  private checkSpace(): string | undefined {
    const problem = this.store.spaceProblem(Math.max(this.lastSampleBytes, this.full ? this.store.lastRefusedBytes : 0, 1));
    if (problem) this.stopForSpace(problem);
    else this.full = undefined;
    return problem;
  }

  // ---- capture jobs ----

  async capture(body: unknown, origin: string): Promise<{ job: CaptureJob; samples: SampleInfo[] }> {
    const request = this.parseRequest(body);
    if (this.running) {
      const j = this.running.job;
      throw new DatasetRequestError(409, `a capture is already running (label ${j.label}, ${j.saved} of ${j.count} saved); stop it first`);
    }
    const problem = this.checkSpace();
    if (problem) throw new DatasetRequestError(507, `capture refused: ${problem}`);
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const job: CaptureJob = { id: ++this.jobIds, label: request.label, count: request.count, everySeconds: request.everySeconds, saved: 0, state: 'running', startedAt: Date.now() };
    const run: RunningJob = { job, taken: 0, failures: 0, nextDueAt: 0, samples: [], lastFrameAt: performance.now(), done, finish };
    this.running = run;
    this.log.info({ label: job.label, count: job.count, everySeconds: job.everySeconds, origin }, `dataset: capturing ${job.count} sample(s) of ${job.label}`);
    this.context.notify({ type: 'job', job: { ...job } });
    // A source that stops delivering frames must not leave a capture running forever.
    run.watchdog = setInterval(() => {
      const limit = BURST_FRAME_WAIT_MS + (job.everySeconds ?? 0) * 1000;
      if (performance.now() - run.lastFrameAt > limit) this.endJob(run, 'failed', `no frame from the source for ${Math.round(limit / 1000)} s`);
    }, 1000);
    run.watchdog.unref();
    if (request.everySeconds === undefined) await done;
    return { job: { ...job }, samples: [...run.samples] };
  }

  private parseRequest(body: unknown): CaptureRequest {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new DatasetRequestError(400, 'capture request must be a JSON object such as {"label": "cat", "count": 5}');
    const b = body as Record<string, unknown>;
    for (const key of Object.keys(b)) {
      if (!['label', 'count', 'everySeconds'].includes(key)) throw new DatasetRequestError(400, `unknown field ${JSON.stringify(key)} (allowed: label, count, everySeconds)`);
    }
    const label = checkLabel(b.label);
    const max = this.settings.maxBurst;
    const count = b.count === undefined ? 1 : b.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > max) {
      throw new DatasetRequestError(400, `count ${JSON.stringify(b.count)} must be an integer from 1 to ${max} (dataset.maxBurst)`);
    }
    let everySeconds: number | undefined;
    if (b.everySeconds !== undefined) {
      const e = b.everySeconds;
      if (typeof e !== 'number' || !Number.isFinite(e) || e < 0.1 || e > 86400) throw new DatasetRequestError(400, `everySeconds ${JSON.stringify(e)} must be a number from 0.1 to 86400`);
      everySeconds = e;
    }
    return { label, count, everySeconds };
  }

  stopCapture(): CaptureJob | undefined {
    const run = this.running;
    if (!run) return undefined;
    this.endJob(run, 'stopped', 'stopped on request');
    return { ...run.job };
  }

  private endJob(run: RunningJob, state: CaptureJob['state'], message?: string): void {
    if (this.running !== run) return;
    this.running = undefined;
    clearInterval(run.watchdog);
    run.job.state = state;
    run.job.endedAt = Date.now();
    if (message) run.job.message = message;
    this.lastJob = { ...run.job };
    if (state === 'failed') this.log.error(`dataset: capture of ${run.job.label} failed after ${run.job.saved} of ${run.job.count}: ${message}`);
    else this.log.info(`dataset: capture of ${run.job.label} ${state}, ${run.job.saved} of ${run.job.count} saved${message ? `: ${message}` : ''}`);
    this.context.notify({ type: 'job', job: { ...run.job } });
    run.finish();
  }

  // ---- the dataset as the server sees it ----

  summary(): DatasetSummary {
    const s = this.settings;
    return {
      labels: this.store.counts(),
      total: this.store.counts().reduce((n, l) => n + l.count, 0),
      bytes: this.store.usedBytes,
      capBytes: this.store.limits.capBytes,
      freeBytes: this.store.freeBytes(),
      minFreeBytes: this.store.limits.minFreeBytes,
      ...(this.full ? { full: this.full } : {}),
      ...(this.running ? { capture: { ...this.running.job } } : this.lastJob ? { capture: this.lastJob } : {}),
      hardExamples: { enabled: s.hardExamples, threshold: s.hardThreshold, onFlip: s.hardOnFlip, everySeconds: s.hardEverySeconds },
      maxSide: s.maxSide,
      maxBurst: s.maxBurst,
    };
  }

  list(label: unknown, page: unknown, pageSize: unknown): SamplePage {
    const folder = checkFolder(label);
    const size = intParam(pageSize, 'pageSize', DEFAULT_PAGE_SIZE, 1, 500);
    const all = this.store.samples(folder);
    const pages = Math.max(1, Math.ceil(all.length / size));
    const p = intParam(page, 'page', 1, 1, Number.MAX_SAFE_INTEGER);
    return { label: folder, page: p, pageSize: size, pages, total: all.length, items: all.slice((p - 1) * size, p * size) };
  }

  files(includeUnlabelled: boolean): { files: Array<{ path: string; bytes: number }>; index: { bytes: number } } {
    return { files: this.store.all(includeUnlabelled).map(({ path, bytes }) => ({ path, bytes })), index: { bytes: this.store.indexSize } };
  }

  samplePath(label: unknown, name: unknown): string {
    return this.store.pathOf(label, name);
  }

  indexPath(): string {
    return this.store.indexFile;
  }

  /** A small JPEG of the sample: decoded at a reduced size and shrunk on the thread pool, then cached. */
  async thumbnail(label: unknown, name: unknown): Promise<Buffer> {
    const file = this.store.pathOf(label, name);
    const key = `${label as string}/${name as string}`;
    const cached = this.thumbs.get(key);
    if (cached) return cached;
    await this.thumbSlot();
    let mat: Mat | undefined;
    let small: Mat | undefined;
    try {
      const info = this.store.entry(label as string, name as string);
      const longest = Math.max(info?.width ?? 0, info?.height ?? 0);
      const flag = longest >= THUMB_SIDE * 8 ? cv.IMREAD_REDUCED_COLOR_8 : longest >= THUMB_SIDE * 4 ? cv.IMREAD_REDUCED_COLOR_4 : longest >= THUMB_SIDE * 2 ? cv.IMREAD_REDUCED_COLOR_2 : cv.IMREAD_COLOR;
      const data = await fs.promises.readFile(file);
      mat = await cv.imdecodeAsync(data, flag);
      if (mat.empty) throw new DatasetRequestError(404, `sample ${key} is not a readable image`);
      const scale = Math.min(1, THUMB_SIDE / Math.max(mat.cols, mat.rows));
      small = scale < 1 ? await mat.resizeAsync(Math.max(1, Math.round(mat.rows * scale)), Math.max(1, Math.round(mat.cols * scale)), 0, 0, cv.INTER_AREA) : undefined;
      const jpeg = await cv.imencodeAsync('.jpg', small ?? mat, [cv.IMWRITE_JPEG_QUALITY, 80]);
      this.thumbs.set(key, jpeg);
      if (this.thumbs.size > THUMB_CACHE) this.thumbs.delete(this.thumbs.keys().next().value as string);
      return jpeg;
    } finally {
      small?.release();
      mat?.release();
      this.thumbsRunning--;
      this.thumbQueue.shift()?.();
    }
  }

  /** Waits for one of MAX_THUMBS_AT_ONCE slots; a 503 when too many are waiting already. */
  private async thumbSlot(): Promise<void> {
    if (this.thumbsRunning < MAX_THUMBS_AT_ONCE) {
      this.thumbsRunning++;
      return;
    }
    if (this.thumbQueue.length >= MAX_THUMBS_WAITING) throw new DatasetRequestError(503, 'too many thumbnails asked for at once; try again');
    await new Promise<void>((resolve) => this.thumbQueue.push(resolve));
    this.thumbsRunning++;
  }

  async move(label: unknown, name: unknown, to: unknown): Promise<SampleInfo> {
    const key = `${String(label)}/${String(name)}`;
    const moved = await this.store.move(label, name, to);
    const thumb = this.thumbs.get(key);
    this.thumbs.delete(key);
    if (thumb) this.thumbs.set(moved.id, thumb);
    this.context.notify({ type: 'changed' });
    return moved;
  }

  async remove(label: unknown, name: unknown): Promise<void> {
    await this.store.remove(label, name);
    this.thumbs.delete(`${checkFolder(label)}/${checkSampleName(name)}`);
    if (this.full) this.checkSpace();
    this.context.notify({ type: 'changed' });
  }

  zip(out: Writable, includeUnlabelled: boolean): Promise<void> {
    const entries: ZipEntry[] = this.store.all(includeUnlabelled).map((s) => ({ name: s.path, file: path.join(this.store.dir, s.label, s.name) }));
    // The index as it is now: lines appended while the zip is written are left for the next one.
    entries.push({ name: 'index.jsonl', file: this.store.indexFile, maxBytes: this.store.indexSize });
    return writeZip(entries, out);
  }

  /** Ends a running capture (daemon stopping); frames being saved finish on their own. */
  close(): void {
    this.closed = true;
    if (this.running) this.endJob(this.running, 'stopped', 'the daemon is stopping');
  }
}

function intParam(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : typeof value === 'number' ? value : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new DatasetRequestError(400, `${name} ${JSON.stringify(value)} must be an integer from ${min} to ${max}`);
  return n;
}

/** 20261205-101502-123: sorts in time order, safe in any file system. */
function stamp(t: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${t.getUTCFullYear()}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}-${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}-${p(t.getUTCMilliseconds(), 3)}`;
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
