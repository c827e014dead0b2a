import * as tf from '@tensorflow/tfjs';

export interface InputSpec {
  height: number;
  width: number;
  channels: number;
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
  model.add(tf.layers.dense({ units: spec.classes, activation: 'softmax', kernelInitializer: init(3) }));
  return model;
}
