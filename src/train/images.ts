import { errorMessage } from '../util/errors';
import { matFromPixels } from '../vision/cv';
import { readImageFile } from '../vision/read-image';
import type { Preprocessor } from '../vision/preprocess';
import { augment, type AugmentOptions } from './augment';
import type { LabelledFile } from './dataset';

/** Decoded images at the model's input size (8-bit, interleaved), with their labels. */
export interface ImageSet {
  files: string[];
  labels: Int32Array;
  pixels: Uint8Array[];
}

export interface SkippedImage {
  file: string;
  reason: string;
}

/**
 * Decodes each image with OpenCV and shrinks it to the model's size through the same
 * Preprocessor the daemon uses (crop, resize, channels), keeping the 8-bit result: augmentation
 * then works on what the model's input is made from, and the per-pixel part of the contract
 * (range, inversion) is applied per batch exactly as in service. Unreadable images are
 * returned in `skipped`, not fatal.
 */
export async function loadImages(files: LabelledFile[], preprocessor: Preprocessor, onProgress?: (done: number) => void): Promise<{ images: ImageSet; skipped: SkippedImage[] }> {
  const kept: Array<{ file: string; label: number; pixels: Uint8Array }> = [];
  const skipped: SkippedImage[] = [];
  for (let i = 0; i < files.length; i++) {
    const { file, label } = files[i];
    try {
      const mat = await readImageFile(file);
      const small = preprocessor.shrink(mat);
      mat.release();
      // getData() copies the pixels into a fresh Buffer (a Uint8Array): keep that one.
      kept.push({ file, label, pixels: small.getData() });
      small.release();
    } catch (err) {
      skipped.push({ file, reason: errorMessage(err) || 'cannot be decoded' });
    }
    if (onProgress && i % 100 === 99) onProgress(i + 1);
  }
  return {
    images: { files: kept.map((k) => k.file), labels: Int32Array.from(kept.map((k) => k.label)), pixels: kept.map((k) => k.pixels) },
    skipped,
  };
}

/**
 * Writes one batch of inputs (and one-hot or 0/1 targets) into preallocated arrays: images
 * `order[start ... start+count)`, each augmented afresh when `augmentation` is given, then turned
 * into values by the preprocessor's per-pixel step, the same code the daemon runs.
 */
export function fillBatch(
  set: ImageSet,
  order: Int32Array,
  start: number,
  count: number,
  preprocessor: Preprocessor,
  targets: { units: number },
  xs: Float32Array,
  ys: Float32Array,
  augmentation?: { options: AugmentOptions; random: () => number },
): void {
  const { width, height, channels } = preprocessor.contract;
  const per = preprocessor.elements;
  ys.fill(0, 0, count * targets.units);
  for (let i = 0; i < count; i++) {
    const index = order[start + i];
    const image = matFromPixels(set.pixels[index], height, width, channels);
    const input = augmentation ? augment(image, augmentation.options, augmentation.random) : image;
    preprocessor.valuesOf(input, xs.subarray(i * per, (i + 1) * per));
    if (input !== image) input.release();
    image.release();
    const label = set.labels[index];
    if (targets.units === 1) ys[i] = label;
    else ys[i * targets.units + label] = 1;
  }
}
