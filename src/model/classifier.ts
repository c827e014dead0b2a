import type { Mat } from '../vision/cv';
import { Preprocessor } from '../vision/preprocess';
import type { InferenceEngine } from './engine/inference-engine';
import { TfjsEngine } from './engine/tfjs-engine';
import { tfjsModelOf, type LoadedModel } from './model-package';

export interface Classification {
  /** One probability per label (index i = label i); reused between calls, copy to keep. */
  scores: Float32Array;
  preprocessMs: number;
  inferMs: number;
}

/** Several frames classified in one pass; every array is reused by the next call, copy to keep. */
export interface BatchClassification {
  /** scores[i] for smalls[i], for i < count. */
  scores: readonly Float32Array[];
  count: number;
  /** Turning the shrunk images into input values, for the whole batch. */
  valuesMs: number;
  /** One inference over the whole batch. */
  inferMs: number;
}

/**
 * Classifies frames with a loaded model package on an inference engine (TF.js, or OpenCV DNN
 * running the model converted to ONNX). Preprocessing and reading the output reuse buffers
 * sized once per model, and every tensor or Mat is released within the call.
 */
export class Classifier {
  readonly labels: readonly string[];
  readonly preprocessor: Preprocessor;
  /** Buffers of the synchronous calls (classify, classifyBatch, scoresFor). */
  private readonly syncLane: Lane;
  /** Buffers of each classifyBatchAsync in flight: one lane per call, up to the engine's concurrency. */
  private readonly lanes: Lane[] = [];
  /** classify()'s batch of one, reused. */
  private readonly one: Mat[] = [];

  readonly engine: InferenceEngine;

  /**
   * @param engine what runs the model (TF.js on the loaded model when not given).
   * @param engineSummary which engine and why, for info, doctor, /api/status and the log.
   */
  constructor(readonly loaded: LoadedModel, engine?: InferenceEngine, readonly engineSummary = 'tfjs') {
    this.labels = loaded.metadata.labels;
    this.preprocessor = new Preprocessor(loaded.metadata.preprocess);
    this.engine = engine ?? new TfjsEngine(tfjsModelOf(loaded), loaded.inputShape, loaded.outputUnits);
    this.syncLane = newLane(false);
    this.reserve(this.syncLane, 1);
  }

  /** classifyBatchAsync calls that may be in flight at once (more than 1 on the inference pool's workers). */
  get concurrency(): number {
    return this.engine.concurrency ?? 1;
  }

  classify(frame: Mat): Classification {
    const started = performance.now();
    const small = this.preprocessor.shrink(frame);
    const shrinkMs = performance.now() - started;
    this.one[0] = small;
    try {
      const batch = this.classifyBatch(this.one, 1);
      return { scores: batch.scores[0], preprocessMs: shrinkMs + batch.valuesMs, inferMs: batch.inferMs };
    } finally {
      this.one.length = 0;
      small.release();
    }
  }

  /**
   * Classifies the first `count` images shrunk by this classifier's preprocessor in one
   * inference. A batch reads the model's weights once for all its frames, so a frame costs
   * less than alone (seed-cnn 150x150 on WASM: 28 ms alone, 15 ms each in fours).
   */
  classifyBatch(smalls: readonly Mat[], count: number): BatchClassification {
    const lane = this.syncLane;
    const t0 = performance.now();
    this.valuesOf(lane, smalls, count);
    const t1 = performance.now();
    this.toScores(lane, this.engine.run(lane.input, count), count);
    return finish(lane, count, t1 - t0, performance.now() - t1);
  }

  /**
   * classifyBatch without blocking the main thread during the inference where the engine can
   * (OpenCV DNN runs on the libuv pool, the inference pool on its workers). Up to
   * `concurrency` calls at once, each with its own input buffer and result; a result is reused
   * by a later call, so copy the scores before awaiting anything else. inferMs is the wall time
   * until the scores are back.
   */
  async classifyBatchAsync(smalls: readonly Mat[], count: number): Promise<BatchClassification> {
    const lane = this.lanes.find((l) => !l.busy) ?? this.addLane();
    lane.busy = true;
    try {
      const t0 = performance.now();
      this.valuesOf(lane, smalls, count);
      const t1 = performance.now();
      this.toScores(lane, await this.engine.runAsync(lane.input, count), count);
      return finish(lane, count, t1 - t0, performance.now() - t1);
    } finally {
      lane.busy = false;
    }
  }

  private addLane(): Lane {
    const lane = newLane(this.engine.sharedInput === true);
    this.lanes.push(lane);
    return lane;
  }

  private valuesOf(lane: Lane, smalls: readonly Mat[], count: number): void {
    this.reserve(lane, count);
    for (let i = 0; i < count; i++) this.preprocessor.valuesOf(smalls[i], lane.views[i]);
  }

  /** Scores for one already-preprocessed input (height x width x channels values). */
  scoresFor(input: Float32Array): Float32Array {
    this.toScores(this.syncLane, this.engine.run(input, 1), 1);
    return this.syncLane.scores[0];
  }

  private toScores(lane: Lane, raw: Float32Array, count: number): void {
    const units = raw.length / count;
    const activation = this.loaded.metadata.outputActivation;
    for (let i = 0; i < count; i++) toProbabilities(raw, activation, lane.scores[i], i * units, units);
  }

  /**
   * Makes room in a lane for batches of `count` (allocates only when a larger batch than ever
   * before comes). A shared lane's input lives in a SharedArrayBuffer, which a worker reads in place.
   */
  private reserve(lane: Lane, count: number): void {
    while (lane.scores.length < count) lane.scores.push(new Float32Array(this.labels.length));
    const elements = this.preprocessor.elements;
    if (lane.views.length >= count) return;
    const bytes = count * elements * Float32Array.BYTES_PER_ELEMENT;
    lane.input = new Float32Array(lane.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    lane.views = Array.from({ length: count }, (_, i) => lane.input.subarray(i * elements, (i + 1) * elements));
  }

  /** Runs one inference on a blank input so the first real frame does not pay for kernel set-up. */
  warmUp(): void {
    this.scoresFor(new Float32Array(this.preprocessor.elements));
  }

  dispose(): void {
    this.engine.dispose();
    this.loaded.model?.dispose();
  }
}

/** The buffers of one classification in flight: the batch's input values, a view per position, and the result. */
interface Lane {
  shared: boolean;
  busy: boolean;
  input: Float32Array;
  views: Float32Array[];
  /** One score array per batch position, grown to the largest batch asked for. */
  scores: Float32Array[];
  result: BatchClassification;
}

function newLane(shared: boolean): Lane {
  const scores: Float32Array[] = [];
  return { shared, busy: false, input: new Float32Array(0), views: [], scores, result: { scores, count: 0, valuesMs: 0, inferMs: 0 } };
}

function finish(lane: Lane, count: number, valuesMs: number, inferMs: number): BatchClassification {
  const result = lane.result;
  result.count = count;
  result.valuesMs = valuesMs;
  result.inferMs = inferMs;
  return result;
}

/**
 * Writes per-label probabilities from `units` outputs starting at `offset` (one image of a
 * batch). A single sigmoid unit becomes [1-p, p] for two labels; raw logits ('none') get a
 * softmax so that confidences are comparable to a threshold.
 */
export function toProbabilities(raw: ArrayLike<number>, activation: 'softmax' | 'sigmoid' | 'none', out: Float32Array, offset = 0, units = raw.length): void {
  if (units === 1 && out.length === 2) {
    const p = activation === 'none' ? 1 / (1 + Math.exp(-raw[offset])) : raw[offset];
    out[0] = 1 - p;
    out[1] = p;
    return;
  }
  if (activation === 'none') {
    let max = -Infinity;
    for (let i = 0; i < units; i++) if (raw[offset + i] > max) max = raw[offset + i];
    let sum = 0;
    for (let i = 0; i < units; i++) sum += (out[i] = Math.exp(raw[offset + i] - max));
    for (let i = 0; i < units; i++) out[i] /= sum;
    return;
  }
  for (let i = 0; i < units; i++) out[i] = raw[offset + i];
}
