import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/model/backend';
import { registerWasmTrainingKernels } from '../../src/train/wasm-gradients';
import { seededRandom } from '../../src/util/random';

function randomTensor(shape: number[], seed: number, reluLike = false): Float32Array {
  const random = seededRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => {
    const v = random() * 2 - 1;
    return reluLike && v < 0 ? 0 : v;
  });
}

async function filterGradient(backend: 'cpu' | 'wasm', xShape: [number, number, number, number], dyShape: [number, number, number, number], filterShape: [number, number, number, number], strides: number, pad: 'valid' | 'same'): Promise<Float32Array> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(randomTensor(xShape, 1, true), xShape);
  const dy = tf.tensor4d(randomTensor(dyShape, 2), dyShape);
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides, pad, dataFormat: 'NHWC', filterShape }) as tf.Tensor;
  const data = (await dw.data()) as Float32Array;
  tf.dispose([x, dy, dw]);
  return data;
}

describe('WASM training kernels', () => {
  let previous: string;
  before(async () => {
    await selectBackend('auto');
    previous = tf.getBackend();
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });
  after(async () => {
    await tf.setBackend(previous);
  });

  const cases: Array<{ name: string; x: [number, number, number, number]; filter: [number, number, number, number]; strides: number; pad: 'valid' | 'same' }> = [
    { name: '5x5 stride 1 valid (default model conv1)', x: [3, 28, 28, 1], filter: [5, 5, 1, 16], strides: 1, pad: 'valid' },
    { name: '3x3 stride 1 valid, many channels', x: [2, 12, 12, 16], filter: [3, 3, 16, 32], strides: 1, pad: 'valid' },
    { name: '3x3 stride 1 same', x: [2, 9, 9, 4], filter: [3, 3, 4, 8], strides: 1, pad: 'same' },
    { name: '3x3 stride 2 same (odd size)', x: [2, 11, 11, 3], filter: [3, 3, 3, 5], strides: 2, pad: 'same' },
    { name: '3x3 stride 2 valid', x: [2, 10, 10, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' },
    { name: '1x1 stride 1 (pointwise)', x: [2, 6, 6, 8], filter: [1, 1, 8, 6], strides: 1, pad: 'valid' },
  ];
  for (const c of cases) {
    it(`Conv2DBackpropFilter matches the cpu backend: ${c.name}`, async () => {
      await tf.setBackend('cpu');
      const probe = tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad);
      const dyShape = probe.shape as [number, number, number, number];
      probe.dispose();
      const expected = await filterGradient('cpu', c.x, dyShape, c.filter, c.strides, c.pad);
      const actual = await filterGradient('wasm', c.x, dyShape, c.filter, c.strides, c.pad);
      assert.equal(actual.length, expected.length);
      let maxRel = 0;
      for (let i = 0; i < expected.length; i++) maxRel = Math.max(maxRel, Math.abs(actual[i] - expected[i]) / Math.max(1e-3, Math.abs(expected[i])));
      assert.ok(maxRel < 1e-4, `max relative difference ${maxRel}`);
    });
  }

  it('lets a conv net train on WASM (loss falls)', async () => {
    await tf.setBackend('wasm');
    const model = tf.sequential();
    // Seeded initial weights: with random ones, all four ReLU filters can start dead now and then
    // and the loss stays at ln 2 whatever the gradients are, which says nothing about the kernels.
    model.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }), biasInitializer: tf.initializers.constant({ value: 0.1 }) }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }));
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    // Class 1 images are bright in the top half, class 0 in the bottom half.
    const xs = new Float32Array(64 * 64);
    const ys = new Float32Array(64 * 2);
    for (let i = 0; i < 64; i++) {
      const cls = i % 2;
      for (let p = 0; p < 64; p++) xs[i * 64 + p] = (p < 32) === (cls === 1) ? 1 : 0;
      ys[i * 2 + cls] = 1;
    }
    const x = tf.tensor4d(xs, [64, 8, 8, 1]);
    const y = tf.tensor2d(ys, [64, 2]);
    const h = await model.fit(x, y, { epochs: 15, batchSize: 16, shuffle: false, verbose: 0 });
    const losses = h.history.loss as number[];
    assert.ok(losses[losses.length - 1] < losses[0] * 0.5, `loss ${losses[0]} -> ${losses[losses.length - 1]}`);
    tf.dispose([x, y]);
    model.dispose();
  });
});
