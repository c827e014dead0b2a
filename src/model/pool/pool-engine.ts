import type { InferenceEngine } from '../engine/inference-engine';
import type { InferencePool } from './inference-pool';

/**
 * A model served by the inference pool's workers: up to one run per worker at a time
 * (`concurrency`), each on its own copy of the model. Synchronous runs (warm-up, self-test,
 * predict) and runs while no worker holds the model (all crashed) go to `local`, the same
 * model in this process, so a broken pool slows the stream down instead of stopping it.
 */
export class PoolEngine implements InferenceEngine {
  readonly name = 'tfjs' as const;
  /** The Classifier gives each concurrent run its own input in shared memory: the workers read it in place. */
  readonly sharedInput = true;
  private fellBack = false;

  constructor(
    private readonly pool: InferencePool,
    readonly model: number,
    private readonly local: InferenceEngine,
    private readonly onFallback?: (why: string) => void,
  ) {}

  get units(): number {
    return this.local.units;
  }

  /** Runs that can be in flight at once: the workers holding the model now (at least 1). */
  get concurrency(): number {
    return Math.max(1, this.pool.capacity(this.model));
  }

  run(input: Float32Array, count: number): Float32Array {
    return this.local.run(input, count);
  }

  runAsync(input: Float32Array, count: number): Promise<Float32Array> {
    if (!this.pool.serves(this.model)) {
      if (!this.fellBack) this.onFallback?.('no inference worker holds the model: classifying on the main thread');
      this.fellBack = true;
      return this.local.runAsync(input, count);
    }
    this.fellBack = false;
    return this.pool.run(this.model, input, count).then((r) => r.output);
  }

  /** The workers drop the model after its last run; the local model belongs to the LoadedModel. */
  dispose(): void {
    this.pool.release(this.model);
    this.local.dispose();
  }
}
