import * as tf from '@tensorflow/tfjs';

/**
 * Batch norm's moving averages forget at 0.9 per step rather than Keras' 0.99: a dataset of a
 * few hundred images gives a few dozen steps per epoch, too few for 0.99 to settle, and
 * validation then sees statistics of the first batches.
 */
const BN_MOMENTUM = 0.9;

export interface InputSpec {
  height: number;
  width: number;
  channels: number;
  /** Output units: one per class, or 1 for a single sigmoid unit (binary class mode). */
  classes: number;
  /** Seeds the initial weights, so that a run can be repeated. */
  seed?: number;
}

/**
 * The seed course's network, kept for parity: conv32(3x3)-pool-conv64(3x3)-pool-dense512-softmax.
 * At 150x150 RGB it is the cats/dogs CNN (most of its 43 M weights in the first dense layer);
 * at 28x28 grayscale the digits CNN.
 */
export function seedCnn(spec: InputSpec): tf.Sequential {
  const seed = spec.seed ?? 1;
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  const model = tf.sequential({ name: 'seed_cnn' });
  model.add(tf.layers.conv2d({ inputShape: [spec.height, spec.width, spec.channels], filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(0) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 512, activation: 'relu', kernelInitializer: init(2) }));
  model.add(outputLayer(spec, init(3)));
  return model;
}

/**
 * The default: three blocks of two 3x3 convolutions with batch norm and ReLU, each block
 * halving the size, then global average pooling and dropout. About 30 k weights at 16 base
 * filters, whatever the input size, so it stays small for a Pi.
 */
export function compactCnn(spec: InputSpec & { baseFilters?: number; dropout?: number; stemStride?: 1 | 2 }): tf.Sequential {
  const seed = spec.seed ?? 1;
  let n = 0;
  const init = () => tf.initializers.heNormal({ seed: seed + n++ });
  const filters = spec.baseFilters ?? 16;
  const model = tf.sequential({ name: 'compact' });
  [filters, filters * 2, filters * 4].forEach((f, block) => {
    for (let i = 0; i < 2; i++) {
      const first = block === 0 && i === 0;
      model.add(tf.layers.conv2d({ ...(first ? { inputShape: [spec.height, spec.width, spec.channels], strides: spec.stemStride ?? 1 } : {}), filters: f, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init() }));
      model.add(tf.layers.batchNormalization({ momentum: BN_MOMENTUM }));
      model.add(tf.layers.activation({ activation: 'relu' }));
    }
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  });
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(tf.layers.dropout({ rate: spec.dropout ?? 0.3 }));
  model.add(outputLayer(spec, tf.initializers.glorotUniform({ seed: seed + n++ })));
  return model;
}

/**
 * MobileNet-style: a strided 3x3 stem, then depthwise-separable blocks (3x3 depthwise + 1x1
 * pointwise, batch norm and ReLU6 after each), every other one strided, global average pooling.
 * `alpha` scales every width, as MobileNet's width multiplier does.
 */
export function mobileCnn(spec: InputSpec & { alpha?: number; dropout?: number }): tf.Sequential {
  const seed = spec.seed ?? 1;
  let n = 0;
  const init = () => tf.initializers.heNormal({ seed: seed + n++ });
  const width = (f: number) => Math.max(8, Math.round(f * (spec.alpha ?? 0.5)));
  const model = tf.sequential({ name: 'mobile' });
  model.add(tf.layers.conv2d({ inputShape: [spec.height, spec.width, spec.channels], filters: width(32), kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init() }));
  model.add(tf.layers.batchNormalization({ momentum: BN_MOMENTUM }));
  model.add(tf.layers.reLU({ maxValue: 6 }));
  for (const [filters, stride] of [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1]] as const) {
    model.add(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: 'same', useBias: false, depthwiseInitializer: init() }));
    model.add(tf.layers.batchNormalization({ momentum: BN_MOMENTUM }));
    model.add(tf.layers.reLU({ maxValue: 6 }));
    model.add(tf.layers.conv2d({ filters: width(filters), kernelSize: 1, useBias: false, kernelInitializer: init() }));
    model.add(tf.layers.batchNormalization({ momentum: BN_MOMENTUM }));
    model.add(tf.layers.reLU({ maxValue: 6 }));
  }
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(tf.layers.dropout({ rate: spec.dropout ?? 0.3 }));
  model.add(outputLayer(spec, tf.initializers.glorotUniform({ seed: seed + n++ })));
  return model;
}

/**
 * `compact-s2`: `compact` whose first convolution takes stride 2, so every later layer works on
 * a quarter of the pixels: the same weights, about a quarter of the arithmetic and activation
 * memory per image, about 3x the training samples/s of `compact` at 96x96 on one core (WASM).
 */
export const ARCHITECTURES = ['seed-cnn', 'compact', 'compact-s2', 'mobile'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export function buildArchitecture(name: Architecture, spec: InputSpec & { alpha?: number }): tf.Sequential {
  if (name === 'seed-cnn') return seedCnn(spec);
  if (name === 'mobile') return mobileCnn(spec);
  if (name === 'compact-s2') return compactCnn({ ...spec, stemStride: 2 });
  return compactCnn(spec);
}

/** Softmax over the classes, or one sigmoid unit when `classes` is 1 (binary class mode). */
function outputLayer(spec: InputSpec, kernelInitializer: ReturnType<typeof tf.initializers.glorotUniform>): tf.layers.Layer {
  return tf.layers.dense({ units: spec.classes, activation: spec.classes === 1 ? 'sigmoid' : 'softmax', kernelInitializer });
}
