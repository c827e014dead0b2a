import * as tf from '@tensorflow/tfjs';
import { TrainingEngineError } from '../util/errors';
import { seededRandom } from '../util/random';
import type { Preprocessor } from '../vision/preprocess';
import type { AugmentOptions } from './augment';
import { imageExamples, type Examples } from './examples';
import type { ImageSet } from './images';
import { TfjsSteps, type OptimizerName, type TrainingSteps } from './training-steps';

export interface FitOptions {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  learningRate: number;
  /** Early stopping: epochs without a better validation loss before training stops (0: never). */
  patience: number;
  /** Reduce the learning rate by `lrFactor` after this many epochs without improvement (0: never). */
  lrPatience: number;
  lrFactor: number;
  minLearningRate: number;
  seed: number;
  /** Applied to the training split only, afresh every epoch. */
  augmentation?: AugmentOptions;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  learningRate: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface FitHooks {
  onBatch?(epoch: number, batch: number, batches: number, loss: number, accuracy: number): void;
  onEpoch?(record: EpochRecord, improved: boolean): void | Promise<void>;
  /** Polled after every batch: true stops training (Ctrl-C) and keeps the best weights. */
  shouldStop?(): boolean;
  /**
   * What runs the steps (torch/engine.ts's PyTorch engine, say), started on this model as it is
   * now; `fit` disposes of it. Default: TF.js on the model itself.
   */
  steps?: TrainingSteps;
}

export interface FitResult {
  history: EpochRecord[];
  /** 1-based epoch whose weights the model holds at the end (the best validation loss). */
  bestEpoch: number;
  stoppedEarly: boolean;
  interrupted: boolean;
  /**
   * The engine failed (its process died: killed, out of memory): training stopped there, as on
   * Ctrl-C, and the model holds the best epoch before it. Undefined when it did not.
   */
  engineFailure?: TrainingEngineError;
}

/**
 * The training loop: shuffled, augmented batches built in preallocated arrays; validation after
 * every epoch; the best weights by validation loss kept in memory and put back at the end (Keras'
 * ModelCheckpoint(save_best_only) + EarlyStopping(restore_best_weights) + ReduceLROnPlateau).
 * `units` is the output layer's size: 1 for one sigmoid unit (binary), else one-hot targets.
 */
export async function fit(model: tf.LayersModel, data: { train: ImageSet; validation: ImageSet }, preprocessor: Preprocessor, units: number, options: FitOptions, hooks: FitHooks = {}): Promise<FitResult> {
  return fitExamples(model, { train: imageExamples(data.train, preprocessor, options.augmentation), validation: imageExamples(data.validation, preprocessor) }, units, options, hooks);
}

/**
 * `fit` over any examples: decoded images, or cached embeddings when a head is trained on a
 * frozen base (transfer.ts). `options.augmentation` is ignored here: the training examples
 * carry their own.
 */
export async function fitExamples(model: tf.LayersModel, data: { train: Examples; validation: Examples }, units: number, options: FitOptions, hooks: FitHooks = {}): Promise<FitResult> {
  const steps = hooks.steps ?? new TfjsSteps(model, { optimizer: options.optimizer, learningRate: options.learningRate, units });
  try {
    return await fitWith(steps, model, data, units, options, hooks);
  } finally {
    await steps.dispose();
  }
}

async function fitWith(steps: TrainingSteps, model: tf.LayersModel, data: { train: Examples; validation: Examples }, units: number, options: FitOptions, hooks: FitHooks): Promise<FitResult> {
  const random = seededRandom(options.seed);
  const per = data.train.elements;
  // Two pairs of buffers: batch b + 1 is assembled while step b runs (in the PyTorch engine's
  // process, which reads its batch until the step settles).
  const buffers = [0, 1].map(() => ({ xs: new Float32Array(options.batchSize * per), ys: new Float32Array(options.batchSize * units) }));
  const order = Int32Array.from(data.train.labels, (_, i) => i);
  const batches = Math.ceil(order.length / options.batchSize);
  const history: EpochRecord[] = [];
  let best: { loss: number; epoch: number; weights: tf.Tensor[] } | undefined;
  let learningRate = options.learningRate;
  let sinceImprovement = 0;
  let sinceReduction = 0;
  let stoppedEarly = false;
  let interrupted = false;
  let engineFailure: TrainingEngineError | undefined;
  /** The engine's answer, or undefined once it has failed (training then stops as on Ctrl-C). */
  const engineCall = async <T>(call: Promise<T>): Promise<T | undefined> => {
    try {
      return await call;
    } catch (err) {
      if (!(err instanceof TrainingEngineError)) throw err;
      engineFailure ??= err;
      interrupted = true;
      return undefined;
    }
  };

  for (let epoch = 1; epoch <= options.epochs && !interrupted; epoch++) {
    const started = performance.now();
    shuffle(order, random);
    let lossSum = 0;
    let correctSum = 0;
    let seen = 0;
    let running: { result: Promise<[number, number]>; count: number } | undefined;
    const settle = async (batch: number) => {
      const { result, count } = running!;
      running = undefined;
      const outcome = await engineCall(result);
      if (!outcome) return;
      const [loss, accuracy] = outcome;
      lossSum += loss * count;
      correctSum += accuracy * count;
      seen += count;
      hooks.onBatch?.(epoch, batch, batches, lossSum / seen, correctSum / seen);
      // A step may settle through microtasks only; without a turn of the event loop a signal
      // (Ctrl-C) would never be delivered, nor the progress bar flushed.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (hooks.shouldStop?.()) interrupted = true;
    };
    for (let b = 0; b < batches; b++) {
      const start = b * options.batchSize;
      const count = Math.min(options.batchSize, order.length - start);
      const { xs, ys } = buffers[b % 2];
      data.train.fill(order, start, count, units, xs, ys, random);
      if (running) {
        await settle(b);
        if (interrupted) break; // stopping after this batch: the one just assembled is not started
      }
      running = { result: steps.step(xs, ys, count, learningRate), count };
    }
    if (running) await settle(batches);
    if (interrupted && seen < order.length) break; // a half epoch is not a result
    const seconds = (performance.now() - started) / 1000;
    if (!(await engineCall(steps.syncModel().then(() => true)))) break;
    const val = evaluateExamples(model, data.validation, units, options.batchSize);
    const record: EpochRecord = { epoch, loss: lossSum / seen, accuracy: correctSum / seen, valLoss: val.loss, valAccuracy: val.accuracy, learningRate, seconds, samplesPerSecond: seen / seconds };
    history.push(record);
    const improved = !best || record.valLoss < best.loss - 1e-4;
    if (improved) {
      best?.weights.forEach((w) => w.dispose());
      best = { loss: record.valLoss, epoch, weights: model.getWeights().map((w) => w.clone()) };
      sinceImprovement = 0;
      sinceReduction = 0;
    } else {
      sinceImprovement++;
      sinceReduction++;
    }
    await hooks.onEpoch?.(record, improved);
    if (options.lrPatience > 0 && sinceReduction >= options.lrPatience && learningRate > options.minLearningRate) {
      learningRate = Math.max(options.minLearningRate, learningRate * options.lrFactor);
      sinceReduction = 0;
    }
    if (options.patience > 0 && sinceImprovement >= options.patience) {
      stoppedEarly = true;
      break;
    }
  }
  if (best) {
    model.setWeights(best.weights);
    best.weights.forEach((w) => w.dispose());
  }
  return { history, bestEpoch: best?.epoch ?? 0, stoppedEarly, interrupted, engineFailure };
}

/** Loss and accuracy over a whole set, in batches (nothing augmented). */
export function evaluateSet(model: tf.LayersModel, set: ImageSet, preprocessor: Preprocessor, units: number, batchSize: number): { loss: number; accuracy: number } {
  return evaluateExamples(model, imageExamples(set, preprocessor), units, batchSize);
}

export function evaluateExamples(model: tf.LayersModel, set: Examples, units: number, batchSize: number): { loss: number; accuracy: number } {
  const probabilities = predictExamples(model, set, batchSize);
  const { predicted } = topClasses(probabilities, units);
  let loss = 0;
  let correct = 0;
  const eps = 1e-7;
  for (let i = 0; i < set.labels.length; i++) {
    const label = set.labels[i];
    // Cross-entropy of the true class: p or 1 - p for one sigmoid unit, the row's entry otherwise.
    const p = units === 1 ? (label === 1 ? probabilities[i] : 1 - probabilities[i]) : probabilities[i * units + label];
    loss -= Math.log(Math.min(1 - eps, Math.max(eps, p)));
    if (predicted[i] === label) correct++;
  }
  const n = Math.max(1, set.labels.length);
  return { loss: loss / n, accuracy: correct / n };
}

/** Each row's predicted class and its probability; one sigmoid unit means class 1 from 0.5 up. */
export function topClasses(probabilities: Float32Array, units: number): { predicted: Int32Array; confidence: Float32Array } {
  const rows = probabilities.length / units;
  const predicted = new Int32Array(rows);
  const confidence = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    if (units === 1) {
      const p = probabilities[i];
      predicted[i] = p >= 0.5 ? 1 : 0;
      confidence[i] = p >= 0.5 ? p : 1 - p;
    } else {
      const row = probabilities.subarray(i * units, (i + 1) * units);
      predicted[i] = argMax(row);
      confidence[i] = row[predicted[i]];
    }
  }
  return { predicted, confidence };
}

/** The model's outputs for every image of a set, row after row. */
export function predictSet(model: tf.LayersModel, set: ImageSet, preprocessor: Preprocessor, batchSize: number): Float32Array {
  return predictExamples(model, imageExamples(set, preprocessor), batchSize);
}

export function predictExamples(model: tf.LayersModel, set: Examples, batchSize: number): Float32Array {
  const units = (model.outputs[0].shape[1] as number) ?? 1;
  const per = set.elements;
  const xs = new Float32Array(batchSize * per);
  const ys = new Float32Array(batchSize * units);
  const order = Int32Array.from(set.labels, (_, i) => i);
  const out = new Float32Array(set.labels.length * units);
  for (let start = 0; start < order.length; start += batchSize) {
    const count = Math.min(batchSize, order.length - start);
    set.fill(order, start, count, units, xs, ys);
    const y = tf.tidy(() => model.predict(tf.tensor(xs.subarray(0, count * per), [count, ...set.shape])) as tf.Tensor);
    out.set(y.dataSync(), start * units);
    y.dispose();
  }
  return out;
}

export function argMax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function shuffle(order: Int32Array, random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}
