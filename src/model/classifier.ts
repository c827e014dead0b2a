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
  /** One score array per batch position, grown to the largest batch asked for. */
  private readonly scores: Float32Array[] = [];
  /** Input values of a batch end to end, and a view of each position (made once, not per frame). */
  private batchInput = new Float32Array(0);
  private batchViews: Float32Array[] = [];
  private readonly batchResult: BatchClassification = { scores: this.scores, count: 0, valuesMs: 0, inferMs: 0 };
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
    this.reserve(1);
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
    const t0 = performance.now();
    this.valuesOf(smalls, count);
    const t1 = performance.now();
    this.infer(this.batchInput, count);
    return this.finish(count, t1 - t0, performance.now() - t1);
  }

  /**
   * classifyBatch without blocking the main thread during the inference where the engine can
   * (OpenCV DNN runs on the libuv pool). One call at a time: the input buffer and the result
   * are reused. inferMs is the wall time until the scores are back.
   */
  async classifyBatchAsync(smalls: readonly Mat[], count: number): Promise<BatchClassification> {
    const t0 = performance.now();
    this.valuesOf(smalls, count);
    const t1 = performance.now();
    this.toScores(await this.engine.runAsync(this.batchInput, count), count);
    return this.finish(count, t1 - t0, performance.now() - t1);
  }

  private valuesOf(smalls: readonly Mat[], count: number): void {
    this.reserve(count);
    for (let i = 0; i < count; i++) this.preprocessor.valuesOf(smalls[i], this.batchViews[i]);
  }

  private finish(count: number, valuesMs: number, inferMs: number): BatchClassification {
    const result = this.batchResult;
    result.count = count;
    result.valuesMs = valuesMs;
    result.inferMs = inferMs;
    return result;
  }

  /** Scores for one already-preprocessed input (height x width x channels values). */
  scoresFor(input: Float32Array): Float32Array {
    this.infer(input, 1);
    return this.scores[0];
  }

  /** Runs the model on `count` inputs laid end to end in `input` and fills scores[0..count). */
  private infer(input: Float32Array, count: number): void {
    this.toScores(this.engine.run(input, count), count);
  }

  private toScores(raw: Float32Array, count: number): void {
    const units = raw.length / count;
    const activation = this.loaded.metadata.outputActivation;
    for (let i = 0; i < count; i++) toProbabilities(raw, activation, this.scores[i], i * units, units);
  }

  /** Makes room for batches of `count` (allocates only when a larger batch than ever before comes). */
  private reserve(count: number): void {
    while (this.scores.length < count) this.scores.push(new Float32Array(this.labels.length));
    const elements = this.preprocessor.elements;
    if (this.batchViews.length >= count) return;
    this.batchInput = new Float32Array(count * elements);
    this.batchViews = Array.from({ length: count }, (_, i) => this.batchInput.subarray(i * elements, (i + 1) * elements));
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
