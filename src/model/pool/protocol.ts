import type * as tf from '@tensorflow/tfjs';

/**
 * Messages between the inference pool (main thread) and its workers. A worker holds TF.js and
 * its WASM backend only (never OpenCV: the binding is not context-aware, it must not load in a
 * worker thread), and any number of models, each under the id the pool gave it; a run names
 * the model it is for, so a model swap is a choice on the main thread, not a message race.
 */

/** Sent with the worker's start (workerData). */
export interface WorkerSetup {
  /** The TF.js backend to start ('wasm', or 'cpu' where WASM cannot start). */
  backend: 'wasm' | 'cpu';
}

/** How much memory a worker holds, as it sees itself. */
export interface WorkerMemory {
  /** V8 heap of the worker's isolate, bytes. */
  heapUsed: number;
  /** Memory outside the heap owned by the isolate: the WASM heap (model weights, activations) is here. */
  external: number;
  /** TF.js's count of live tensors and their bytes in this worker. */
  tensors: number;
  tensorBytes: number;
  /** Models loaded in the worker. */
  models: number;
}

export type ToWorker =
  | {
      type: 'load';
      model: number;
      artifacts: tf.io.ModelArtifacts;
      /** Probe inputs end to end, each inputShape, run once alone each after loading (warm-up and check). */
      probes: Float32Array;
      probeCount: number;
      inputShape: [number, number, number];
    }
  | { type: 'run'; job: number; model: number; input: Float32Array; count: number }
  | { type: 'drop'; model: number }
  | { type: 'memory'; ask: number };

export type FromWorker =
  | { type: 'ready'; backend: string; memory: WorkerMemory }
  | { type: 'fatal'; error: string }
  | { type: 'loaded'; model: number; outputs: Float32Array; ms: number; memory: WorkerMemory }
  | { type: 'loadFailed'; model: number; error: string }
  | { type: 'ran'; job: number; output: Float32Array; ms: number }
  | { type: 'runFailed'; job: number; error: string }
  | { type: 'memory'; ask: number; memory: WorkerMemory };
