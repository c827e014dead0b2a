import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { ARCHITECTURES, buildArchitecture } from '../../src/train/architectures';
import { setPatchChunkValues } from '../../src/train/wasm-gradients';
import { seededRandom } from '../../src/util/random';
import { onWasmTrainingBackend } from '../helpers/wasm-training';

function randomTensor(shape: number[], seed: number, reluLike = false): Float32Array {
  const random = seededRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => {
    const v = random() * 2 - 1;
    return reluLike && v < 0 ? 0 : v;
  });
}

type Shape = number[];

/** Runs one kernel on `backend` with seeded random inputs (the first one ReLU-like) and returns its output. */
async function runOn(backend: 'cpu' | 'wasm', kernel: string, inputs: Record<string, Shape>, attrs: Record<string, unknown>): Promise<Float32Array> {
  await tf.setBackend(backend);
  const tensors = Object.fromEntries(Object.entries(inputs).map(([name, shape], i) => [name, tf.tensor(randomTensor(shape, i + 1, i === 0), shape)]));
  const out = tf.engine().runKernel(kernel, tensors, attrs as never) as tf.Tensor;
  const data = (await out.data()) as Float32Array;
  tf.dispose([...Object.values(tensors), out]);
  return data;
}

const reported: string[] = [];

/** Float32 sums in another order differ in the last bits: compare against the output's own scale. */
function assertClose(actual: Float32Array, expected: Float32Array, name = 'unnamed'): void {
  assert.equal(actual.length, expected.length);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  }
  reported.push(`${name}: relative error ${(maxDiff / maxAbs).toExponential(2)}`);
  assert.ok(maxAbs > 0 && maxDiff / maxAbs < 1e-5, `largest difference ${maxDiff} against a largest value of ${maxAbs}`);
}

describe('WASM training kernels', () => {
  onWasmTrainingBackend(reported);

  const cases: Array<{ name: string; x: [number, number, number, number]; filter: [number, number, number, number]; strides: number; pad: 'valid' | 'same' }> = [
    { name: '5x5 stride 1 valid (default model conv1)', x: [3, 28, 28, 1], filter: [5, 5, 1, 16], strides: 1, pad: 'valid' },
    { name: '3x3 stride 1 valid, many channels', x: [2, 12, 12, 16], filter: [3, 3, 16, 32], strides: 1, pad: 'valid' },
    { name: '3x3 stride 1 same', x: [2, 9, 9, 4], filter: [3, 3, 4, 8], strides: 1, pad: 'same' },
    { name: '3x3 stride 2 same (odd size)', x: [2, 11, 11, 3], filter: [3, 3, 3, 5], strides: 2, pad: 'same' },
    { name: '3x3 stride 2 same, even size (the compact-s2 stem)', x: [2, 12, 12, 3], filter: [3, 3, 3, 8], strides: 2, pad: 'same' },
    { name: '3x3 stride 2 valid', x: [2, 10, 10, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' },
    { name: '1x1 stride 1 (pointwise)', x: [2, 6, 6, 8], filter: [1, 1, 8, 6], strides: 1, pad: 'valid' },
  ];
  for (const c of cases) {
    it(`Conv2DBackpropFilter matches the cpu backend: ${c.name}`, async () => {
      await tf.setBackend('cpu');
      const probe = tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad);
      const dyShape = probe.shape as [number, number, number, number];
      probe.dispose();
      const conv = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC' };
      const filterGrad = (b: 'cpu' | 'wasm') => runOn(b, 'Conv2DBackpropFilter', { x: c.x, dy: dyShape }, { ...conv, filterShape: c.filter });
      const expected = await filterGrad('cpu');
      assertClose(await filterGrad('wasm'), expected, `Conv2DBackpropFilter ${c.name}`);
      // A patch budget below one image's patches: one image per chunk, the chunks' products summed.
      const previousChunk = setPatchChunkValues(1);
      try {
        assertClose(await filterGrad('wasm'), expected, `Conv2DBackpropFilter ${c.name}, one image per chunk`);
      } finally {
        setPatchChunkValues(previousChunk);
      }
    });
    it(`Conv2DBackpropInput matches the cpu backend: ${c.name}`, async () => {
      await tf.setBackend('cpu');
      const probe = tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad);
      const dyShape = probe.shape;
      probe.dispose();
      const conv = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC' };
      const inputGrad = (b: 'cpu' | 'wasm') => runOn(b, 'Conv2DBackpropInput', { dy: dyShape, filter: c.filter }, { ...conv, inputShape: c.x });
      assertClose(await inputGrad('wasm'), await inputGrad('cpu'), `Conv2DBackpropInput ${c.name}`);
    });
  }

  for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]]) {
    it(`BatchMatMul matches the cpu backend with transposeA=${transposeA}, transposeB=${transposeB} (dense layer gradients)`, async () => {
      const a = transposeA ? [1, 40, 24] : [1, 24, 40];
      const b = transposeB ? [1, 16, 40] : [1, 40, 16];
      const product = (backend: 'cpu' | 'wasm') => runOn(backend, 'BatchMatMul', { a, b }, { transposeA, transposeB });
      assertClose(await product('wasm'), await product('cpu'), `BatchMatMul transposeA=${transposeA} transposeB=${transposeB}`);
    });
  }

  for (const c of [
    { name: '2x2 stride 2 valid (every architecture)', x: [3, 13, 13, 8], filterSize: 2, strides: 2, pad: 'valid' },
    { name: '2x2 stride 2 valid after a ReLU (ties at 0 go to the first in the window)', x: [2, 8, 8, 4], filterSize: 2, strides: 2, pad: 'valid', reluLike: true },
    { name: '3x3 stride 2 same, odd size', x: [2, 11, 11, 4], filterSize: 3, strides: 2, pad: 'same' },
    { name: '3x3 stride 1 same (overlapping windows)', x: [2, 7, 7, 3], filterSize: 3, strides: 1, pad: 'same' },
  ] as const) {
    it(`MaxPoolGrad matches the cpu backend: ${c.name}`, async () => {
      const grad = async (backend: 'cpu' | 'wasm') => {
        await tf.setBackend(backend);
        const x = tf.tensor4d(randomTensor([...c.x], 3, 'reluLike' in c), [...c.x] as [number, number, number, number]);
        const y = tf.maxPool(x, c.filterSize, c.strides, c.pad);
        const dy = tf.tensor(randomTensor(y.shape, 4), y.shape);
        const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: c.filterSize, strides: c.strides, pad: c.pad } as never) as tf.Tensor;
        const data = (await dx.data()) as Float32Array;
        tf.dispose([x, y, dy, dx]);
        return data;
      };
      assertClose(await grad('wasm'), await grad('cpu'), `MaxPoolGrad ${c.name}`);
    });
  }

  for (const [shape, reps] of [[[1, 1, 1, 5], [3, 4, 2, 1]], [[2, 3], [2, 3]], [[2, 1, 3], [1, 4, 2]]] as const) {
    it(`Tile matches the cpu backend: [${shape}] x [${reps}] (batch norm gradients)`, async () => {
      const tiled = (backend: 'cpu' | 'wasm') => runOn(backend, 'Tile', { x: [...shape] }, { reps: [...reps] });
      assertClose(await tiled('wasm'), await tiled('cpu'), `Tile [${shape}] x [${reps}]`);
    });
  }

  // Dilation 1 only: TF.js refuses gradients of dilated (depthwise) convolutions, and so do these kernels.
  const depthwise: Array<{ name: string; x: [number, number, number, number]; filter: [number, number, number, number]; strides: number; pad: 'valid' | 'same'; dilations: number }> = [
    { name: '3x3 stride 1 same (mobile blocks)', x: [2, 9, 9, 4], filter: [3, 3, 4, 1], strides: 1, pad: 'same', dilations: 1 },
    { name: '3x3 stride 2 same, odd size (mobile downsampling)', x: [2, 11, 11, 3], filter: [3, 3, 3, 1], strides: 2, pad: 'same', dilations: 1 },
    { name: '3x3 stride 2 valid, multiplier 2', x: [2, 10, 10, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'valid', dilations: 1 },
  ];
  for (const c of depthwise) {
    it(`depthwise gradients match the cpu backend: ${c.name}`, async () => {
      await tf.setBackend('cpu');
      const probe = tf.depthwiseConv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad);
      const dyShape = probe.shape;
      probe.dispose();
      const conv = { strides: c.strides, pad: c.pad, dilations: c.dilations };
      const filterGrad = (b: 'cpu' | 'wasm') => runOn(b, 'DepthwiseConv2dNativeBackpropFilter', { x: c.x, dy: dyShape }, { ...conv, filterShape: c.filter });
      assertClose(await filterGrad('wasm'), await filterGrad('cpu'), `DepthwiseConv2dNativeBackpropFilter ${c.name}`);
      const inputGrad = (b: 'cpu' | 'wasm') => runOn(b, 'DepthwiseConv2dNativeBackpropInput', { dy: dyShape, filter: c.filter }, { ...conv, inputShape: c.x });
      assertClose(await inputGrad('wasm'), await inputGrad('cpu'), `DepthwiseConv2dNativeBackpropInput ${c.name}`);
    });
  }

  it('Identity (tf.clone, the copies the engine keeps for the backward pass) shares the buffer and keeps it until the last holder goes', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d(randomTensor([3, 4], 9), [3, 4]);
    const buffers = tf.memory().numDataBuffers;
    const copy = tf.clone(x);
    assert.equal(tf.memory().numDataBuffers, buffers, 'no new buffer');
    x.dispose();
    assert.deepEqual(Array.from(await copy.data()), Array.from(randomTensor([3, 4], 9)));
    copy.dispose();
    assert.equal(tf.memory().numDataBuffers, buffers - 1, 'freed with its last holder');
  });

  it('leaves its inputs intact and no tensor behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomTensor([2, 9, 9, 4], 1, true), [2, 9, 9, 4]);
    const w = tf.tensor4d(randomTensor([3, 3, 4, 8], 2), [3, 3, 4, 8]);
    const dy = tf.tensor4d(randomTensor([2, 9, 9, 8], 3), [2, 9, 9, 8]);
    const a = tf.tensor2d(randomTensor([6, 5], 4), [6, 5]);
    const before = tf.memory().numTensors;
    const outputs = [
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 8] } as never),
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [2, 9, 9, 4] } as never),
      tf.engine().runKernel('BatchMatMul', { a, b: a }, { transposeA: true, transposeB: false } as never),
    ] as tf.Tensor[];
    assert.equal(tf.memory().numTensors, before + outputs.length, 'only the outputs are new');
    tf.dispose(outputs);
    // The kernels borrowed their inputs: the caller's data must still be there, unchanged.
    assert.deepEqual(Array.from(await x.data()), Array.from(randomTensor([2, 9, 9, 4], 1, true)));
    assert.deepEqual(Array.from(await w.data()), Array.from(randomTensor([3, 3, 4, 8], 2)));
    assert.deepEqual(Array.from(await a.data()), Array.from(randomTensor([6, 5], 4)));
    tf.dispose([x, w, dy, a]);
  });

  for (const architecture of ARCHITECTURES) {
    it(`trains the ${architecture} architecture on WASM with a flat tensor count, and its loss falls`, async () => {
      await tf.setBackend('wasm');
      const model = buildArchitecture(architecture, { height: 32, width: 32, channels: 3, classes: 3, seed: 5 });
      model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
      const x = tf.tensor4d(randomTensor([8, 32, 32, 3], 6), [8, 32, 32, 3]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3).toFloat();
      const losses: number[] = [];
      losses.push((await model.trainOnBatch(x, y)) as number);
      const tensors = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) losses.push((await model.trainOnBatch(x, y)) as number);
      assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind by a training step');
      assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
      // Eight images to learn by heart: a network whose gradients are right gets the loss down.
      for (let i = 0; i < 16; i++) losses.push((await model.trainOnBatch(x, y)) as number);
      const last = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
      assert.ok(last < losses[0] * 0.8, `loss did not fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
      tf.dispose([x, y]);
      model.dispose();
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
