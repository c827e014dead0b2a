import type { CapturedImage, FrameSource } from '../capture/frame-source';
import { Pacer } from '../capture/frame-source';
import type { Classifier } from '../model/classifier';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { TypedEmitter } from '../util/typed-emitter';
import type { Mat } from '../vision/cv';
import { encodeJpeg } from '../vision/encoder';
import { drawOverlay } from '../vision/overlay';
import type { Preprocessor } from '../vision/preprocess';
import type { Decision, DecisionMaker } from './decision';
import { PipelineStats, type Stage } from './stats';

export interface FrameResult {
  seq: number;
  /** Wall-clock time the frame was read (ms since epoch). */
  capturedAt: number;
  decidedAt: number;
  width: number;
  height: number;
  decision: Decision;
  /** The source's true label, when it knows one (the demo scene). */
  truth?: string;
  /** This frame's time per stage in ms; overlay and encode stay 0 unless the frame was drawn for viewers. */
  timings: Record<Stage, number>;
}

/**
 * Something that keeps some raw frames (the dataset's samples, the events' best frames). `wants`
 * is asked on the main thread for every classified frame and must answer at once; when it says
 * yes, `take` receives the frame's pixels before anything is drawn on them, as a Mat the tap now
 * owns and must release. `take` must not block: whatever it does with the pixels (encode,
 * write) goes off the frame path.
 */
export interface FrameTap {
  wants(result: FrameResult): boolean;
  take(mat: Mat, result: FrameResult): void;
}

/** An annotated frame encoded as JPEG, with the result it shows. */
export interface EncodedFrame {
  result: FrameResult;
  jpeg: Buffer;
}

export type SourceState = 'open' | 'reconnecting' | 'ended' | 'error' | 'closed';

export interface PipelineEvents extends Record<string, unknown> {
  result: FrameResult;
  /** Emitted only while someone holds requestJpeg(). */
  jpeg: EncodedFrame;
  source: { state: SourceState; description: string; error?: string; attempt?: number; retryInMs?: number };
  listenerError: { event: string; error: unknown };
}

export interface PipelineOptions {
  source: FrameSource;
  classifier: Classifier;
  decisions: DecisionMaker;
  log: Logger;
  overlay: boolean;
  jpegQuality: number;
  /** 0: classify as fast as frames come. */
  maxFps: number;
  /** Most frames per second drawn and encoded for viewers; 0: no limit. */
  streamMaxFps?: number;
  /** Wait before reading again from a source whose read failed. */
  reopenDelayMs?: number;
  /**
   * Most frames classified together from a source that waits for the pipeline (a file read as
   * fast as it is classified); live sources and a maxFps limit always classify one at a time.
   */
  batchSize?: number;
}

/** How long a batch that is not full waits for more frames before it goes as it is. */
const BATCH_FILL_WAIT_MS = 50;

/** Frames classified in one inference, and what came back, until they are published. */
interface Batch {
  frames: PendingFrame[];
  /** The frames that could be shrunk, and their model-sized images: what went to the classifier. */
  classified: PendingFrame[];
  smalls: Mat[];
  /** The pair in service when the batch started: its results are decided by the model that made them. */
  classifier: Classifier;
  decisions: DecisionMaker;
  state: 'running' | 'done' | 'failed';
  /** A copy of each classified frame's scores (the classifier reuses its own). */
  scores: Float32Array[];
  valuesMs: number;
  inferMs: number;
}

interface PendingFrame {
  mat: Mat;
  /** The frame at the model's size, made on the thread pool by `shrunkBy` (a model swap since then makes it useless). */
  small?: Mat;
  shrunkBy?: Preprocessor;
  shrinkMs: number;
  /** Settles when the shrink has finished (either way): the frame's Mats are not freed before. */
  shrunk: Promise<void>;
  seq: number;
  capturedAt: number;
  readMs: number;
  truth?: string;
  /** The encoder has the frame's pixels and releases them. */
  encoding?: boolean;
  /** A frame tap has the frame's pixels and releases them. */
  tapped?: boolean;
}

/**
 * Capture and classification as two loops that meet in a single slot: capture always writes
 * the newest frame there (overwriting one not yet classified counts as dropped), and
 * classification always takes the newest. Nothing queues, so a slow model never makes the
 * picture late, only less frequent. Results go out as typed events; the pipeline knows
 * nothing of HTTP.
 *
 * A source that waits for the pipeline instead (a file read unthrottled) loses no frame: the
 * slot then holds up to `batchSize` frames, which are classified in one inference.
 *
 * On the inference pool (pipeline.workers) up to one batch per worker is in flight, each
 * started on the newest frames when a worker became free, and results are published in
 * capture order.
 */
export class Pipeline {
  readonly events = new TypedEmitter<PipelineEvents>();
  readonly stats = new PipelineStats();
  overlayEnabled: boolean;
  jpegQuality: number;
  maxFps: number;
  streamMaxFps: number;
  /** Swapped as a pair by replaceModel (a new model may have other labels). */
  classifier: Classifier;
  decisions: DecisionMaker;
  /** Taps offered each classified frame before drawing (see FrameTap); a failing one is logged, never fatal. */
  readonly taps: FrameTap[] = [];

  private running = false;
  /** Frames waiting for the classifier, oldest first: at most one, or batchLimit for an on-demand source. */
  private slot: PendingFrame[] = [];
  private readonly batchLimit: number;
  /**
   * Batches being classified, in capture order (each took the newest frames when it started, so
   * a later one holds later frames): at most the classifier's concurrency. Results go out from
   * the front only, so they are published in capture order however the runs finish.
   */
  private readonly inFlight: Batch[] = [];
  /** Finished batches, kept for reuse with their arrays. */
  private readonly spare: Batch[] = [];
  /** Wakes the classify loop when a batch in flight settles. */
  private settled: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private slotFreed: (() => void) | undefined;
  private captureDone = false;
  private seq = 0;
  private jpegConsumers = 0;
  /**
   * Pictures being encoded, in the order they were started (capture order). Encodes on the
   * thread pool may finish out of order; a finished one goes out only once those before it
   * have, so viewers never see the picture go back. At most encodeLimit() long.
   */
  private readonly encoding: Array<{ result: FrameResult; jpeg: Buffer | null | undefined }> = [];
  /** Wakes a classify loop waiting for room among the encodes (see encodeRoom). */
  private encodeFreed: (() => void) | undefined;
  /** Encodes the stream may still make now (a token bucket refilled at streamMaxFps, holding at most 2). */
  private streamCredit = 2;
  private streamCreditAt = 0;
  private loops: Promise<void> | undefined;
  private lastDecision: FrameResult | undefined;

  constructor(private readonly options: PipelineOptions) {
    this.overlayEnabled = options.overlay;
    this.jpegQuality = options.jpegQuality;
    this.maxFps = options.maxFps;
    this.streamMaxFps = options.streamMaxFps ?? 0;
    this.classifier = options.classifier;
    this.decisions = options.decisions;
    this.batchLimit = options.source.onDemand && !options.maxFps ? Math.max(1, options.batchSize ?? 1) : 1;
  }

  /**
   * Serves a new model from the next batch on and returns the old classifier for the caller to
   * dispose: the switch falls between two frames. Batches in flight on the old one finish with
   * it and are decided by its decision maker, and are published before any frame of the new
   * one (they are older). TF.js classifies synchronously, OpenCV DNN's asynchronous forward
   * pass holds its network itself, and the inference pool drops a model from its workers only
   * after its last run, so disposing the old classifier at once is safe.
   */
  replaceModel(classifier: Classifier, decisions: DecisionMaker): Classifier {
    const old = this.classifier;
    this.classifier = classifier;
    this.decisions = decisions;
    return old;
  }

  get latest(): FrameResult | undefined {
    return this.lastDecision;
  }

  /** Declares interest in encoded frames; call the returned function to withdraw it. */
  requestJpeg(): () => void {
    this.jpegConsumers++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.jpegConsumers--;
      }
    };
  }

  /** Starts both loops; the returned promise settles when a finite source has been fully classified or stop() is called. */
  start(): Promise<void> {
    if (this.loops) return this.loops;
    this.running = true;
    this.events.emit('source', { state: 'open', description: this.options.source.description });
    this.loops = Promise.all([this.captureLoop(), this.classifyLoop()]).then(() => undefined);
    return this.loops;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    this.slotFreed?.();
    this.settled?.();
    this.wakeEncodeWaiter();
    await this.loops;
    this.loops = undefined;
    for (const frame of this.slot) releaseFrame(frame);
    this.slot.length = 0;
  }

  /**
   * Starts shrinking a new frame to the model's input size on the thread pool, so the main
   * thread is left only the per-pixel values and inference, and the capture loop can go on
   * reading meanwhile. A failure here is not the frame's end: the classify loop shrinks it
   * again on the main thread and reports what goes wrong.
   */
  private startShrink(mat: Mat, seq: number, readMs: number, truth: string | undefined): PendingFrame {
    const preprocessor = this.classifier.preprocessor;
    const started = performance.now();
    const frame: PendingFrame = { mat, seq, capturedAt: Date.now(), readMs, truth, shrinkMs: 0, shrunk: Promise.resolve() };
    frame.shrunk = preprocessor.shrinkAsync(mat).then(
      (small) => {
        frame.small = small;
        frame.shrunkBy = preprocessor;
        frame.shrinkMs = performance.now() - started;
      },
      () => undefined,
    );
    return frame;
  }

  /** Resolves once the slot has room: on-demand sources wait for the classifier instead of dropping. */
  private async slotHasRoom(): Promise<void> {
    while (this.slot.length >= this.batchLimit && this.running) await new Promise<void>((resolve) => (this.slotFreed = resolve));
  }

  private async captureLoop(): Promise<void> {
    const { source, log } = this.options;
    const pacer = new Pacer(source.paceFps);
    // A source that paces itself (a camera: read() waits for the driver) is read ahead: the next
    // read is already decoding on the thread pool while this frame is classified, instead of
    // starting only once the main thread is free again. A source played by the pacer is read
    // when its frame is due, so that capture time means what it says.
    const readAhead = !source.paceFps;
    let next: Promise<ReadOutcome> | undefined = readAhead ? timedRead(source) : undefined;
    while (this.running) {
      const outcome = await (next ?? timedRead(source));
      next = undefined;
      if ('error' in outcome) {
        if (!this.running) break;
        await this.recoverSource(outcome.error);
        pacer.reset();
        if (readAhead) next = timedRead(source);
        continue;
      }
      const { image, readMs } = outcome;
      if (!image) {
        log.info({ source: source.description }, 'source ended');
        this.events.emit('source', { state: 'ended', description: source.description });
        break;
      }
      if (readAhead && this.running) next = timedRead(source);
      this.stats.captured++;
      // Every captured frame gets a number, so gaps in the classified ones show what was dropped.
      const seq = ++this.seq;
      if (pacer.isStale()) {
        this.stats.dropped++;
        image.mat.release();
        continue;
      }
      const pending = this.startShrink(image.mat, seq, readMs, image.truth);
      if (source.onDemand) await this.slotHasRoom();
      if (this.slot.length >= this.batchLimit) {
        // Overwritten before anyone classified it: a dropped frame. Free its pixels now.
        this.stats.dropped++;
        releaseFrame(this.slot.shift()!);
      }
      this.slot.push(pending);
      this.wake?.();
      await pacer.wait();
      // Let the classify loop and I/O run between frames even when reads complete instantly.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // A read started ahead and not wanted any more: wait for it so its frame can be freed.
    if (next) {
      const outcome = await next;
      if ('image' in outcome) outcome.image?.mat.release();
    }
    this.captureDone = true;
    this.wake?.();
  }

  /**
   * A read that throws: live sources come wrapped in a ResilientSource, which reconnects by
   * itself and does not throw, so this is for plain sources (tests, predict). Report and retry.
   */
  private async recoverSource(err: unknown): Promise<void> {
    const { source, log } = this.options;
    const message = errorMessage(err);
    log.error({ source: source.description, err: message }, 'source read failed; retrying');
    this.events.emit('source', { state: 'error', description: source.description, error: message });
    await sleep(this.options.reopenDelayMs ?? 1000);
  }

  /**
   * Moves the waiting frames into `into` once there are batchLimit of them (or capture has
   * ended, or no frame came for BATCH_FILL_WAIT_MS) and returns how many; 0 when there will be
   * no more. The main thread is blocked during an inference, so an on-demand source gets only
   * one read done meanwhile: waiting for a full batch is what lets batches form.
   */
  private async nextBatch(into: PendingFrame[]): Promise<number> {
    let waitedOut = false;
    while (this.running) {
      const waiting = this.slot.length;
      if (waiting > 0 && (waiting >= this.batchLimit || this.captureDone || waitedOut)) {
        into.length = 0;
        for (const frame of this.slot) into.push(frame);
        this.slot.length = 0;
        this.slotFreed?.();
        this.slotFreed = undefined;
        return into.length;
      }
      if (this.captureDone) return 0;
      waitedOut = !(await this.woken(waiting > 0 ? BATCH_FILL_WAIT_MS : undefined));
    }
    return 0;
  }

  /** Resolves true when capture wakes the classify loop, false if `timeoutMs` passes first. */
  private woken(timeoutMs: number | undefined): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(true);
      };
    });
  }

  /**
   * Starts a batch whenever the classifier can take one more (one at a time, or one per worker
   * of the inference pool) and frames are waiting: each free worker takes the newest frame, so
   * a frame never waits behind an older one and at most `concurrency` frames are in flight.
   */
  private async classifyLoop(): Promise<void> {
    let lastStart = 0;
    for (;;) {
      await this.laneFree();
      const batch = this.spare.pop() ?? newBatch(this.classifier, this.decisions);
      const count = await this.nextBatch(batch.frames);
      if (count === 0) {
        this.spare.push(batch);
        break;
      }
      for (const frame of batch.frames) await frame.shrunk;
      if (this.maxFps > 0) {
        const wait = lastStart + 1000 / this.maxFps - performance.now();
        if (wait > 0) await sleep(wait);
      }
      lastStart = performance.now();
      await this.encodeRoom();
      this.startBatch(batch);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // Capture has ended or stop() was called: what is in flight still finishes and goes out.
    while (this.inFlight.length > 0) await new Promise<void>((resolve) => (this.settled = resolve));
  }

  /**
   * A file read on demand waits for the pipeline and loses no frame; with stream.maxFps 0 its
   * pictures are not skipped either: the next batch starts only once its frames will find room
   * among the encodes (the batch before is still encoding meanwhile). A live source never waits:
   * its pictures are skipped instead.
   */
  private async encodeRoom(): Promise<void> {
    if (this.batchLimit <= 1 || this.streamMaxFps > 0) return;
    while (this.running && this.jpegConsumers > 0 && this.encoding.length > this.encodeLimit() - this.batchLimit) {
      await new Promise<void>((resolve) => (this.encodeFreed = resolve));
    }
  }

  /** Resolves once fewer batches are in flight than the classifier takes at once (or the pipeline stops). */
  private async laneFree(): Promise<void> {
    while (this.running && this.inFlight.length >= Math.max(1, this.classifier.concurrency)) {
      await new Promise<void>((resolve) => (this.settled = resolve));
    }
  }

  /**
   * Sends a batch to the classifier in service now and puts it in line. The inference runs off
   * the main thread where the engine can (OpenCV DNN, the inference pool): capture goes on
   * filling the slot meanwhile, and the next batch is still the newest frames.
   */
  private startBatch(batch: Batch): void {
    const { log } = this.options;
    // The pair in service now: a model swap takes effect between batches, never within one.
    batch.classifier = this.classifier;
    batch.decisions = this.decisions;
    batch.state = 'running';
    batch.classified.length = 0;
    batch.smalls.length = 0;
    for (const frame of batch.frames) {
      if (!this.shrunkFor(batch.classifier, frame)) continue;
      batch.classified.push(frame);
      batch.smalls.push(frame.small!);
    }
    this.inFlight.push(batch);
    if (batch.classified.length === 0) {
      batch.state = 'failed';
      this.publishReady();
      return;
    }
    batch.classifier.classifyBatchAsync(batch.smalls, batch.classified.length).then(
      (result) => {
        // Copied at once: the classifier reuses its result for a later call.
        for (let i = 0; i < result.count; i++) {
          const scores = result.scores[i];
          if (batch.scores[i]?.length !== scores.length) batch.scores[i] = new Float32Array(scores.length);
          batch.scores[i].set(scores);
        }
        batch.valuesMs = result.valuesMs;
        batch.inferMs = result.inferMs;
        batch.state = 'done';
        this.publishReady();
      },
      (err: unknown) => {
        log.error({ seq: batch.classified.map((f) => f.seq), err: errorMessage(err) }, 'frame could not be classified');
        batch.state = 'failed';
        this.publishReady();
      },
    );
  }

  /**
   * Publishes the finished batches at the front of the line, in capture order. A batch that
   * finished before an older one waits for it (less than one inference: the older started
   * first) rather than go out of order or have the older one's work thrown away; smoothing,
   * events and taps see the frames in the order they were captured.
   */
  private publishReady(): void {
    while (this.inFlight.length > 0 && this.inFlight[0].state !== 'running') {
      const batch = this.inFlight.shift()!;
      if (batch.state === 'done') this.publish(batch);
      for (const frame of batch.frames) {
        frame.small?.release();
        frame.small = undefined;
        if (!frame.encoding && !frame.tapped) frame.mat.release();
      }
      batch.frames.length = 0;
      batch.classified.length = 0;
      batch.smalls.length = 0;
      // A spare batch must not keep a replaced model reachable.
      batch.classifier = this.classifier;
      batch.decisions = this.decisions;
      this.spare.push(batch);
    }
    this.settled?.();
    this.settled = undefined;
  }

  /** Sends out each frame's result, in order. */
  private publish(batch: Batch): void {
    const { log } = this.options;
    const { classified } = batch;
    // A frame classified with others is charged its share of the batch's time.
    const valuesMs = batch.valuesMs / classified.length;
    const inferMs = batch.inferMs / classified.length;
    for (let i = 0; i < classified.length; i++) {
      const frame = classified[i];
      try {
        const result = this.process(frame, batch.decisions.decide(batch.scores[i]), frame.shrinkMs + valuesMs, inferMs);
        this.lastDecision = result;
        // Drawing and encoding are for viewers: skipped while nobody asked for pictures, while
        // as many pictures as allowed are still encoding, and above the stream's frame rate (such
        // a frame's result still goes out, without a picture).
        const drawn = this.jpegConsumers > 0 && this.encoding.length < this.encodeLimit() && this.streamDue();
        this.offerToTaps(frame, result, drawn);
        if (drawn) {
          this.annotate(frame.mat, result);
          this.encode(frame.mat, result);
          frame.encoding = true;
        }
        this.events.emit('result', result);
      } catch (err) {
        log.error({ seq: frame.seq, err: errorMessage(err) }, 'frame could not be classified');
      }
    }
  }

  /**
   * Gives the raw frame to each tap that wants it, before anything is drawn. The last one takes
   * the frame's own Mat when the stream does not draw on it (no copy); the others, and all of
   * them when it does, take a copy (a memcpy). Nothing is copied for a frame nobody wants.
   */
  private offerToTaps(frame: PendingFrame, result: FrameResult, drawn: boolean): void {
    let wanting: FrameTap | undefined;
    for (const tap of this.taps) {
      let wants = false;
      try {
        wants = tap.wants(result);
      } catch (err) {
        this.options.log.error({ seq: frame.seq, err: errorMessage(err) }, 'a frame tap failed');
      }
      if (!wants) continue;
      if (wanting) this.hand(wanting, frame, result, true);
      wanting = tap;
    }
    if (wanting) this.hand(wanting, frame, result, drawn);
  }

  private hand(tap: FrameTap, frame: PendingFrame, result: FrameResult, copy: boolean): void {
    try {
      const mat = copy ? frame.mat.copy() : frame.mat;
      if (!copy) frame.tapped = true;
      tap.take(mat, result);
    } catch (err) {
      // A tap that fails must not cost the frame; it owned the Mat once take was called.
      this.options.log.error({ seq: frame.seq, err: errorMessage(err) }, 'a frame tap failed');
    }
  }

  /**
   * Makes sure the frame has its image at `classifier`'s input size: one shrunk on the thread
   * pool for a model replaced since, or whose shrink failed there, is shrunk again here. False
   * (and the error logged) when the frame cannot be shrunk, such as an empty frame.
   */
  private shrunkFor(classifier: Classifier, frame: PendingFrame): boolean {
    if (frame.small && frame.shrunkBy === classifier.preprocessor) return true;
    const started = performance.now();
    try {
      frame.small?.release();
      frame.small = undefined;
      frame.small = classifier.preprocessor.shrink(frame.mat);
      frame.shrunkBy = classifier.preprocessor;
      frame.shrinkMs = performance.now() - started;
      return true;
    } catch (err) {
      this.options.log.error({ seq: frame.seq, err: errorMessage(err) }, 'frame could not be classified');
      return false;
    }
  }

  /**
   * True when an encode now keeps within streamMaxFps on average. A bucket of two rather than a
   * fixed gap: a camera at exactly the stream's rate delivers frames with jitter, and a gap rule
   * would skip every frame that arrives a little early.
   */
  private streamDue(): boolean {
    if (this.streamMaxFps <= 0) return true;
    const now = performance.now();
    this.streamCredit = Math.min(2, this.streamCredit + ((now - this.streamCreditAt) * this.streamMaxFps) / 1000);
    this.streamCreditAt = now;
    return this.streamCredit >= 1;
  }

  private process(frame: PendingFrame, decision: Decision, preprocessMs: number, inferMs: number): FrameResult {
    this.stats.tick();
    const timings: Record<Stage, number> = { read: frame.readMs, preprocess: preprocessMs, infer: inferMs, overlay: 0, encode: 0 };
    this.stats.record('read', frame.readMs);
    this.stats.record('preprocess', preprocessMs);
    this.stats.record('infer', inferMs);
    const decidedAt = Date.now();
    this.stats.recordLatency(decidedAt - frame.capturedAt);
    return { seq: frame.seq, capturedAt: frame.capturedAt, decidedAt, width: frame.mat.cols, height: frame.mat.rows, decision, truth: frame.truth, timings };
  }

  private annotate(mat: Mat, result: FrameResult): void {
    if (!this.overlayEnabled) return;
    const started = performance.now();
    drawOverlay(mat, { decision: result.decision, fps: this.stats.fps(), inferMs: this.stats.stageMs.infer });
    result.timings.overlay = performance.now() - started;
    this.stats.record('overlay', result.timings.overlay);
  }

  private wakeEncodeWaiter(): void {
    const wake = this.encodeFreed;
    this.encodeFreed = undefined;
    wake?.();
  }

  /**
   * How many pictures may be encoding at once. One keeps a live picture's latency lowest and
   * costs a capped stream nothing. stream.maxFps 0 asks for a picture of every classified frame:
   * then a batch's frames may all be encoding while the batch before still is (its frames are
   * decided in one pass; with one encode at a time only its first got a picture): two batches'
   * worth, and two for a live source.
   */
  private encodeLimit(): number {
    return this.streamMaxFps > 0 ? 1 : 2 * this.batchLimit;
  }

  /**
   * Encodes on the thread pool while the next frame is classified (the caller checks
   * encodeLimit). Takes the frame and releases it when done.
   */
  private encode(mat: Mat, result: FrameResult): void {
    const entry: { result: FrameResult; jpeg: Buffer | null | undefined } = { result, jpeg: undefined };
    this.encoding.push(entry);
    const started = performance.now();
    this.streamCredit -= 1;
    encodeJpeg(mat, this.jpegQuality).then(
      (jpeg) => {
        mat.release();
        const ms = performance.now() - started;
        result.timings.encode = ms;
        this.stats.record('encode', ms);
        this.stats.encoded++;
        entry.jpeg = jpeg;
        this.sendEncoded();
      },
      (err: Error) => {
        mat.release();
        this.options.log.error({ err: err.message }, 'JPEG encoding failed');
        entry.jpeg = null;
        this.sendEncoded();
      },
    );
  }

  /** Sends the finished pictures at the front of the line, in capture order (a failed one is passed over). */
  private sendEncoded(): void {
    while (this.encoding.length > 0 && this.encoding[0].jpeg !== undefined) {
      const { result, jpeg } = this.encoding.shift()!;
      if (jpeg) this.events.emit('jpeg', { result, jpeg });
    }
    this.wakeEncodeWaiter();
  }
}

/** Frees a frame's Mats once its shrink has settled (the resize reads the frame until then). */
function releaseFrame(frame: PendingFrame): void {
  void frame.shrunk.then(() => {
    frame.small?.release();
    frame.mat.release();
  });
}

type ReadOutcome = { image: CapturedImage | null; readMs: number } | { error: unknown };

/** One read as a value, never a rejection: a read started ahead may fail before anyone awaits it. */
function timedRead(source: FrameSource): Promise<ReadOutcome> {
  const started = performance.now();
  return source.read().then(
    (image) => ({ image, readMs: performance.now() - started }),
    (error: unknown) => ({ error }),
  );
}

function newBatch(classifier: Classifier, decisions: DecisionMaker): Batch {
  return { frames: [], classified: [], smalls: [], classifier, decisions, state: 'done', scores: [], valuesMs: 0, inferMs: 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
