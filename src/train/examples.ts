import type { Preprocessor } from '../vision/preprocess';
import type { AugmentOptions } from './augment';
import { fillBatch, type ImageSet } from './images';

/**
 * What the fit loop trains on, whatever an example is: a decoded image (training from scratch,
 * fine-tuning) or a cached embedding of one (a head on a frozen base). The loop only needs the
 * labels, the shape of one example and a way to write a batch into its preallocated arrays.
 */
export interface Examples {
  labels: Int32Array;
  /** The shape of one example, without the batch dimension. */
  shape: number[];
  /** Values per example (the product of `shape`). */
  elements: number;
  /**
   * Writes examples `order[start ... start+count)` into `xs` and their one-hot (or 0/1 for one
   * unit) targets into `ys`. `random` is given while training: examples that augment draw from it.
   */
  fill(order: Int32Array, start: number, count: number, units: number, xs: Float32Array, ys: Float32Array, random?: () => number): void;
}

/** Decoded images through the daemon's Preprocessor, augmented afresh on every draw when asked. */
export function imageExamples(set: ImageSet, preprocessor: Preprocessor, augmentation?: AugmentOptions): Examples {
  const { height, width, channels } = preprocessor.contract;
  return {
    labels: set.labels,
    shape: [height, width, channels],
    elements: preprocessor.elements,
    fill: (order, start, count, units, xs, ys, random) =>
      fillBatch(set, order, start, count, preprocessor, { units }, xs, ys, augmentation && random ? { options: augmentation, random } : undefined),
  };
}

/** One-hot targets (or 0/1 for a single sigmoid unit) for `count` examples. */
export function fillTargets(labels: Int32Array, order: Int32Array, start: number, count: number, units: number, ys: Float32Array): void {
  ys.fill(0, 0, count * units);
  for (let i = 0; i < count; i++) {
    const label = labels[order[start + i]];
    if (units === 1) ys[i] = label;
    else ys[i * units + label] = 1;
  }
}
