import * as tf from '@tensorflow/tfjs';
import { DatasetError } from '../util/errors';
import type { Preprocessor } from '../vision/preprocess';
import type { AugmentOptions } from './augment';
import { fillTargets, imageExamples, type Examples } from './examples';
import type { ImageSet } from './images';

/**
 * A frozen base's output for every image, computed once: `views` rows per image (view 0 the
 * image as it is, the others augmented views of it drawn once), `size` values each.
 */
export interface EmbeddingSet {
  labels: Int32Array;
  views: number;
  size: number;
  vectors: Float32Array;
}

/**
 * The cache lives in memory. 1280 values a view (a MobileNet embedding) x 6 views is 30 KB an
 * image, 30 MB for a thousand; beyond this bound the run stops and says which flag to lower,
 * rather than swapping a workstation to a halt.
 */
export const EMBEDDING_CACHE_BYTES = 1024 ** 3;

/**
 * Runs every image (and `views - 1` augmented views of it, when augmenting) through the frozen
 * extractor in batches. The augmented views are drawn from `random` in image order, so a seed
 * reproduces them.
 */
export function computeEmbeddings(
  extractor: tf.LayersModel,
  set: ImageSet,
  preprocessor: Preprocessor,
  options: { views: number; augmentation?: AugmentOptions; random?: () => number; batchSize: number; onProgress?: (done: number, total: number) => void },
): EmbeddingSet {
  const views = options.augmentation ? options.views : 1;
  const size = extractor.outputs[0].shape[1] as number;
  const rows = set.labels.length * views;
  const bytes = rows * size * 4;
  if (bytes > EMBEDDING_CACHE_BYTES) {
    throw new DatasetError(`the embedding cache would need ${(bytes / 1024 ** 2).toFixed(0)} MB (${set.labels.length} images x ${views} views x ${size} values), more than the ${EMBEDDING_CACHE_BYTES / 1024 ** 2} MB it may use: lower --augment-views or pick a --base-layer with a smaller output`);
  }
  const vectors = new Float32Array(rows * size);
  const plain = imageExamples(set, preprocessor);
  const augmented = options.augmentation ? imageExamples(set, preprocessor, options.augmentation) : plain;
  const xs = new Float32Array(options.batchSize * plain.elements);
  const ys = new Float32Array(options.batchSize);
  const order = Int32Array.from(set.labels, (_, i) => i);
  let done = 0;
  for (let view = 0; view < views; view++) {
    const source = view === 0 ? plain : augmented;
    for (let start = 0; start < order.length; start += options.batchSize) {
      const count = Math.min(options.batchSize, order.length - start);
      source.fill(order, start, count, 1, xs, ys, view === 0 ? undefined : options.random);
      const out = tf.tidy(() => extractor.predict(tf.tensor(xs.subarray(0, count * plain.elements), [count, ...plain.shape])) as tf.Tensor);
      const values = out.dataSync();
      out.dispose();
      // Row of (image i, view v) = i * views + v: an image's views sit together.
      for (let k = 0; k < count; k++) vectors.set(values.subarray(k * size, (k + 1) * size), ((start + k) * views + view) * size);
      done += count;
      options.onProgress?.(done, rows);
    }
  }
  return { labels: set.labels, views, size, vectors };
}

/**
 * Cached embeddings as training examples: while training (`random` given) each draw takes one of
 * an image's views at random, so augmentation still varies from epoch to epoch; for validation
 * and prediction, view 0 (the image as it is).
 */
export function embeddingExamples(set: EmbeddingSet): Examples {
  const { size, views, vectors, labels } = set;
  return {
    labels,
    shape: [size],
    elements: size,
    fill: (order, start, count, units, xs, ys, random) => {
      for (let k = 0; k < count; k++) {
        const image = order[start + k];
        const view = random && views > 1 ? Math.floor(random() * views) : 0;
        const row = image * views + view;
        xs.set(vectors.subarray(row * size, (row + 1) * size), k * size);
      }
      fillTargets(labels, order, start, count, units, ys);
    },
  };
}
