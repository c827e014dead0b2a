import type * as tf from '@tensorflow/tfjs';
import type { TrainingEngine } from './options';
import { TrainingEngineError } from '../util/errors';
import { TorchSteps } from './torch/engine';
import type { StepSettings, TrainingSteps } from './training-steps';

/**
 * The engine for a network trained from scratch. `torch` must start (or training does not);
 * `auto` takes PyTorch when it starts and otherwise says why it trains on TF.js; `tfjs` (and
 * the fallback) answers undefined: `fit` then steps the TF.js model itself.
 */
export async function selectTrainingSteps(engine: TrainingEngine, model: tf.LayersModel, settings: StepSettings, options: { python: string; seed: number }, log: (line: string) => void): Promise<TrainingSteps | undefined> {
  if (engine === 'tfjs') return undefined;
  try {
    return await TorchSteps.start(model, settings, options);
  } catch (err) {
    if (engine === 'torch' || !(err instanceof TrainingEngineError)) throw err;
    log(`training steps on TF.js: the PyTorch engine did not start (${err.message}; Debian's python3-torch provides it, --engine tfjs skips this check)`);
    return undefined;
  }
}
