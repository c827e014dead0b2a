/** Which runtime computes a model's outputs. */
export type EngineName = 'tfjs' | 'opencv';

/**
 * Runs a model on inputs laid end to end, each height x width x channels values (NHWC, as the
 * preprocessor writes them), and returns the raw outputs, `count` x units. The Classifier turns
 * those into per-label probabilities; it does not know which runtime made them.
 */
export interface InferenceEngine {
  readonly name: EngineName;
  /** Output units per input. */
  readonly units: number;
  /** Blocks the calling thread for the inference (predict, self-test, evaluate); not while a runAsync is in flight. */
  run(input: Float32Array, count: number): Float32Array;
  /**
   * The same without blocking the main thread where the runtime can (OpenCV DNN on the libuv
   * pool); TF.js computes on the calling thread whichever is used. `input` must stay unchanged
   * until the promise settles. Calls are run one after another, or up to `concurrency` at once.
   */
  runAsync(input: Float32Array, count: number): Promise<Float32Array>;
  /** Runs that may be in flight at once (the inference pool's workers); 1 when absent. */
  readonly concurrency?: number;
  /** Wants each run's input in a SharedArrayBuffer (read in place by another thread). */
  readonly sharedInput?: boolean;
  dispose(): void;
}
