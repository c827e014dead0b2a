import * as tf from '@tensorflow/tfjs';
import type { BaseModel } from './base-model';

/**
 * The small classifier trained on cached embeddings: Dense(units, relu), Dropout, then the
 * output layer (softmax over the classes, or one sigmoid unit). Seeded initializers, so a run
 * is reproducible.
 */
export function buildHead(inputSize: number, hiddenUnits: number, dropout: number, outputUnits: number, seed: number): tf.Sequential {
  return tf.sequential({
    name: 'head',
    layers: [
      tf.layers.dense({ inputShape: [inputSize], units: hiddenUnits, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed }), name: 'head_dense' }),
      tf.layers.dropout({ rate: dropout, seed: seed + 1, name: 'head_dropout' }),
      tf.layers.dense({ units: outputUnits, activation: outputUnits === 1 ? 'sigmoid' : 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }), name: 'head_output' }),
    ],
  });
}

/**
 * Base (up to the cut) + head as ONE layers model, image in, classes out: what the package
 * holds and the daemon loads. The two share their layers and weights with `base` and `head`.
 */
export function composeModel(base: BaseModel, head: tf.LayersModel): tf.LayersModel {
  const { height, width, channels } = base.contract;
  const input = tf.input({ shape: [height, width, channels], name: 'image' });
  const output = head.apply(base.extractor.apply(input)) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'transfer' });
}

/**
 * Makes the last `count` layers of the base (up to the cut) trainable again, and every
 * BatchNormalization layer of the base run in inference mode while training: TF.js, unlike
 * Keras since 2.1.3, normalises a frozen BatchNormalization layer with the batch's statistics
 * and overwrites its moving averages when training, which with small batches from a new scene
 * wrecks the pretrained features. Keras' transfer-learning guide keeps them in inference mode
 * for fine-tuning too; their scale and offset still learn when unfrozen. Returns the names of
 * the layers made trainable (layers without weights count toward `count` but stay as they are).
 */
export function unfreezeLast(base: BaseModel, count: number): string[] {
  const layers = base.layersUpToCut.filter((l) => l.getClassName() !== 'InputLayer');
  for (const layer of layers) if (layer.getClassName() === 'BatchNormalization') keepInInferenceMode(layer);
  // The nested models that hold these layers must be trainable for theirs to count.
  base.extractor.trainable = true;
  for (const model of modelsUnder(base.extractor)) model.trainable = true;
  const open = new Set(layers.slice(Math.max(0, layers.length - count)));
  for (const layer of layers) layer.trainable = open.has(layer);
  return [...open].filter((l) => l.weights.length > 0).map((l) => l.name);
}

function modelsUnder(model: tf.LayersModel): tf.LayersModel[] {
  return model.layers.filter((l): l is tf.LayersModel => l instanceof tf.LayersModel).flatMap((m) => [m, ...modelsUnder(m)]);
}

/** Overrides this one layer's call (not its class, not its saved config) to ignore `training`. */
function keepInInferenceMode(layer: tf.layers.Layer): void {
  const original = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => original(inputs, { ...kwargs, training: false });
}
