import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/model/backend';
import { selectEngine } from '../../../src/model/engine/select-engine';
import type { LoadedModel } from '../../../src/model/model-package';

/** A LoadedModel around a real TF.js model built here (weights: TF.js's seeded initialisers). */
function loadedOf(model: tf.LayersModel, range: [number, number] = [0, 1]): LoadedModel {
  const [, h, w, c] = model.inputs[0].shape as number[];
  const units = model.outputs[0].shape[1] as number;
  return {
    dir: `(built in the test: ${model.name})`,
    format: 'layers-model',
    model,
    metadata: { name: model.name, version: '1', labels: Array.from({ length: Math.max(units, 2) }, (_, i) => String(i)), outputActivation: 'softmax', preprocess: { width: w, height: h, channels: c, resizeMode: 'stretch', colorOrder: 'rgb', range, invert: false, contrast: 'none' } } as unknown as LoadedModel['metadata'],
    inputShape: [h, w, c],
    outputUnits: units,
    parameters: model.countParams(),
    weightBytes: 0,
  };
}

/** BatchNormalization with moving statistics other than 0 and 1, so that folding them is tested. */
function randomiseBatchNorm(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    layer.setWeights(layer.getWeights().map((w, i) => tf.randomUniform(w.shape, i === 3 ? 0.5 : -0.5, 1.5, 'float32', 7 + i)));
  }
}

const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 1 }) });

describe('ONNX conversion of TF.js layers, each checked by OpenCV DNN against TF.js (1e-4)', function () {
  this.timeout(120_000);
  before(() => selectBackend('auto'));

  const cases: Array<{ name: string; build: () => tf.LayersModel; range?: [number, number] }> = [
    {
      name: 'Conv2D stride 2 with same padding on odd sizes (asymmetric pads), dilation, tanh, elu, AveragePooling2D same, Flatten',
      build: () =>
        tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [15, 13, 3], filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', ...init(1) }),
            tf.layers.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'elu', ...init(3) }),
            tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 5, activation: 'softmax', ...init(5) }),
          ],
        }),
    },
    {
      name: 'SeparableConv2D, DepthwiseConv2D with depth multiplier 2, BatchNormalization, relu6, LeakyReLU, GlobalMaxPooling2D, sigmoid',
      build: () => {
        const m = tf.sequential({
          layers: [
            tf.layers.separableConv2d({ inputShape: [12, 12, 3], filters: 8, kernelSize: 3, padding: 'same', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 9 }), pointwiseInitializer: tf.initializers.glorotUniform({ seed: 10 }), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 11 }) }),
            tf.layers.batchNormalization(),
            tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu6', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 12 }) }),
            tf.layers.leakyReLU({ alpha: 0.2 }),
            tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]] }),
            tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
            tf.layers.globalMaxPooling2d({}),
            tf.layers.dense({ units: 1, activation: 'sigmoid', ...init(13) }),
          ],
        });
        randomiseBatchNorm(m);
        return m;
      },
      range: [-1, 1],
    },
    {
      name: 'a functional graph: two branches joined by Concatenate, Add and Multiply, GlobalAveragePooling2D, Dense on BatchNormalization',
      build: () => {
        const input = tf.input({ shape: [10, 10, 1] });
        const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', ...init(20) }).apply(input) as tf.SymbolicTensor;
        const b = tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'sigmoid', ...init(22) }).apply(input) as tf.SymbolicTensor;
        const sum = tf.layers.add().apply([a, b]) as tf.SymbolicTensor;
        const product = tf.layers.multiply().apply([a, b]) as tf.SymbolicTensor;
        const joined = tf.layers.concatenate().apply([sum, product]) as tf.SymbolicTensor;
        const pooled = tf.layers.globalAveragePooling2d({}).apply(joined) as tf.SymbolicTensor;
        const normed = tf.layers.batchNormalization().apply(pooled) as tf.SymbolicTensor;
        const out = tf.layers.dense({ units: 3, activation: 'softmax', ...init(24) }).apply(normed) as tf.SymbolicTensor;
        const m = tf.model({ inputs: input, outputs: out });
        randomiseBatchNorm(m);
        return m;
      },
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const model = c.build();
      try {
        const selection = await selectEngine(loadedOf(model, c.range), { preference: 'opencv', threads: 1 });
        assert.equal(selection.engine.name, 'opencv', selection.summary);
      } finally {
        model.dispose();
      }
    });
  }

  it('a Dense layer on a 4-D value and an unknown activation are named as the reason to stay on TF.js', async () => {
    const dense4d = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4, 4, 2], units: 3 }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    const selu = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 2, activation: 'selu' })] });
    try {
      assert.match((await selectEngine(loadedOf(dense4d), { preference: 'opencv', threads: 1 })).summary, /^tfjs \(not convertible to ONNX: layer dense_\w+ \(Dense\): applied to a rank-4 input/);
      assert.match((await selectEngine(loadedOf(selu), { preference: 'auto', threads: 1 })).summary, /^tfjs \(not convertible to ONNX: layer dense_\w+ \(Dense\): activation selu\)$/);
    } finally {
      dense4d.dispose();
      selu.dispose();
    }
  });
});
