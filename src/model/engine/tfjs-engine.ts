import * as tf from '@tensorflow/tfjs';
import type { InferenceEngine } from './inference-engine';

/** A TF.js model on the process's TF.js backend; every tensor is released within the call. */
export class TfjsEngine implements InferenceEngine {
  readonly name = 'tfjs' as const;
  private readonly shape: [number, number, number, number];

  constructor(private readonly model: tf.LayersModel | tf.GraphModel, input: readonly [number, number, number], readonly units: number) {
    this.shape = [1, input[0], input[1], input[2]];
  }

  run(input: Float32Array, count: number): Float32Array {
    this.shape[0] = count;
    const elements = this.shape[1] * this.shape[2] * this.shape[3];
    const output = tf.tidy(() => {
      const values = input.length === count * elements ? input : input.subarray(0, count * elements);
      return this.model.predict(tf.tensor(values, this.shape, 'float32')) as tf.Tensor;
    });
    try {
      return output.dataSync() as Float32Array;
    } finally {
      output.dispose();
    }
  }

  runAsync(input: Float32Array, count: number): Promise<Float32Array> {
    try {
      return Promise.resolve(this.run(input, count));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The model belongs to the LoadedModel; whoever loaded it disposes it. */
  dispose(): void {}
}
