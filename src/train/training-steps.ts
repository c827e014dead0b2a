import * as tf from '@tensorflow/tfjs';
import { fuseBatchNorm } from './batch-norm';

export const OPTIMIZERS = ['adam', 'rmsprop', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** What runs the optimisation steps of `fit`: TF.js on the model itself, or another engine holding a copy. */
export interface TrainingSteps {
  /** For the log: "TF.js wasm", "PyTorch 1.13.1, 4 threads". */
  readonly description: string;
  /**
   * One step on the first `count` examples of x (NHWC) and y; resolves to the batch's loss and
   * accuracy. x and y are left untouched until it settles; `fit` assembles the next batch in
   * other arrays meanwhile.
   */
  step(x: Float32Array, y: Float32Array, count: number, learningRate: number): Promise<[loss: number, accuracy: number]>;
  /** Puts the engine's current weights into the TF.js model (validation, checkpoints and export read it there). */
  syncModel(): Promise<void>;
  dispose(): Promise<void>;
}

export interface StepSettings {
  optimizer: OptimizerName;
  learningRate: number;
  /** Output units: 1 means one sigmoid unit and binary cross-entropy. */
  units: number;
}

/** The steps in TF.js, on the model itself (its current backend; the WASM gradient kernels when registered). */
export class TfjsSteps implements TrainingSteps {
  readonly description = `TF.js ${tf.getBackend()}`;
  private readonly optimizer: tf.Optimizer;
  private readonly shape: number[];
  private readonly perExample: number;
  private learningRate: number;

  constructor(private readonly model: tf.LayersModel, private readonly settings: StepSettings) {
    // Batch norm's training path as two fused kernels on WASM (batch-norm.ts); the layer's own elsewhere.
    fuseBatchNorm(model);
    this.optimizer = makeOptimizer(settings.optimizer, settings.learningRate);
    this.learningRate = settings.learningRate;
    model.compile({ optimizer: this.optimizer, loss: settings.units === 1 ? 'binaryCrossentropy' : 'categoricalCrossentropy', metrics: ['accuracy'] });
    this.shape = model.inputs[0].shape.slice(1) as number[];
    this.perExample = this.shape.reduce((a, b) => a * b, 1);
  }

  async step(x: Float32Array, y: Float32Array, count: number, learningRate: number): Promise<[number, number]> {
    if (learningRate !== this.learningRate) {
      setLearningRate(this.optimizer, learningRate);
      this.learningRate = learningRate;
    }
    const xs = tf.tensor(x.subarray(0, count * this.perExample), [count, ...this.shape]);
    const ys = tf.tensor2d(y.subarray(0, count * this.settings.units), [count, this.settings.units]);
    try {
      const [loss, accuracy] = (await this.model.trainOnBatch(xs, ys)) as number[];
      return [loss, accuracy];
    } finally {
      tf.dispose([xs, ys]);
    }
  }

  async syncModel(): Promise<void> {}

  async dispose(): Promise<void> {
    // The optimizer was made here (compile does not own an instance): free its moment estimates.
    this.optimizer.dispose();
  }
}

function makeOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  if (name === 'rmsprop') return tf.train.rmsprop(learningRate);
  if (name === 'sgd') return tf.train.sgd(learningRate);
  return tf.train.adam(learningRate);
}

function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  // SGD caches its rate as a scalar; Adam and RMSProp read the field at every step.
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (o.setLearningRate) o.setLearningRate(learningRate);
  else o.learningRate = learningRate;
}
