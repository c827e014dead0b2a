import * as tf from '@tensorflow/tfjs';
import type { Mat } from '../vision/cv';
import { Preprocessor } from '../vision/preprocess';
import type { LoadedModel } from './model-package';

export interface Classification {
  /** One probability per label (index i = label i); reused between calls, copy to keep. */
  scores: Float32Array;
  preprocessMs: number;
  inferMs: number;
}

/**
 * Classifies frames with a loaded model package. Preprocessing, tensor creation and reading
 * the output reuse buffers sized once per model, and every tensor is released within the call
 * (tf.memory().numTensors is the same before and after).
 */
export class Classifier {
  readonly labels: readonly string[];
  readonly preprocessor: Preprocessor;
  private readonly scores: Float32Array;
  private readonly inputShape: [number, number, number, number];

  constructor(readonly loaded: LoadedModel) {
    this.labels = loaded.metadata.labels;
    this.preprocessor = new Preprocessor(loaded.metadata.preprocess);
    this.scores = new Float32Array(this.labels.length);
    const p = loaded.metadata.preprocess;
    this.inputShape = [1, p.height, p.width, p.channels];
  }

  classify(frame: Mat): Classification {
    const started = performance.now();
    const small = this.preprocessor.shrink(frame);
    try {
      return this.classifyShrunk(small, performance.now() - started);
    } finally {
      small.release();
    }
  }

  /**
   * Classifies an image already shrunk by this classifier's preprocessor (shrinkAsync, on the
   * thread pool); `shrinkMs` is what that took, counted as preprocessing.
   */
  classifyShrunk(small: Mat, shrinkMs: number): Classification {
    const t0 = performance.now();
    const input = this.preprocessor.valuesOf(small);
    const t1 = performance.now();
    this.scoresFor(input);
    return { scores: this.scores, preprocessMs: shrinkMs + (t1 - t0), inferMs: performance.now() - t1 };
  }

  /** Scores for one already-preprocessed input (height x width x channels values). */
  scoresFor(input: Float32Array): Float32Array {
    const output = tf.tidy(() => {
      const x = tf.tensor(input, this.inputShape, 'float32');
      const y = this.loaded.model.predict(x) as tf.Tensor;
      return y;
    });
    try {
      const raw = output.dataSync();
      toProbabilities(raw, this.loaded.metadata.outputActivation, this.scores);
    } finally {
      output.dispose();
    }
    return this.scores;
  }

  /** Runs one inference on a blank input so the first real frame does not pay for kernel set-up. */
  warmUp(): void {
    this.scoresFor(new Float32Array(this.preprocessor.elements));
  }

  dispose(): void {
    this.loaded.model.dispose();
  }
}

/**
 * Writes per-label probabilities. A single sigmoid unit becomes [1-p, p] for two labels;
 * raw logits ('none') get a softmax so that confidences are comparable to a threshold.
 */
export function toProbabilities(raw: ArrayLike<number>, activation: 'softmax' | 'sigmoid' | 'none', out: Float32Array): void {
  if (raw.length === 1 && out.length === 2) {
    const p = activation === 'none' ? 1 / (1 + Math.exp(-raw[0])) : raw[0];
    out[0] = 1 - p;
    out[1] = p;
    return;
  }
  if (activation === 'none') {
    let max = -Infinity;
    for (let i = 0; i < raw.length; i++) if (raw[i] > max) max = raw[i];
    let sum = 0;
    for (let i = 0; i < raw.length; i++) sum += (out[i] = Math.exp(raw[i] - max));
    for (let i = 0; i < raw.length; i++) out[i] /= sum;
    return;
  }
  for (let i = 0; i < raw.length; i++) out[i] = raw[i];
}
