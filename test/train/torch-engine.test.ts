import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { buildArchitecture, type Architecture } from '../../src/train/architectures';
import { TorchSteps } from '../../src/train/torch/engine';
import { TfjsSteps } from '../../src/train/training-steps';
import { seededRandom } from '../../src/util/random';
import { onWasmTrainingBackend } from '../helpers/wasm-training';

/** Seeded images and one-hot labels whose class shows in the image (the mean of a class's channel is raised). */
function batch(count: number, shape: [number, number, number], units: number, seed: number): { x: Float32Array; y: Float32Array; labels: number[] } {
  const random = seededRandom(seed);
  const [h, w, c] = shape;
  const x = new Float32Array(count * h * w * c);
  const y = new Float32Array(count * units);
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const label = i % Math.max(2, units);
    labels.push(label);
    if (units === 1) y[i] = label;
    else y[i * units + label] = 1;
    for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) x[(i * h * w + p) * c + ch] = random() * 0.5 + (ch === label % c ? 0.5 * (label + 1) / Math.max(2, units) : 0);
  }
  return { x, y, labels };
}

function tfjsPredict(model: tf.LayersModel, x: Float32Array, count: number): Float32Array {
  const shape = model.inputs[0].shape.slice(1) as number[];
  return tf.tidy(() => (model.predict(tf.tensor(x, [count, ...shape])) as tf.Tensor).dataSync() as Float32Array);
}

function largestDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'output lengths');
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('the PyTorch training engine (Debian python3-torch)', function () {
  this.timeout(120_000);
  const reported: string[] = [];
  onWasmTrainingBackend(reported);

  // An even side gives a strided 'same' convolution Keras' uneven padding (one more after than before), an odd side even padding.
  const cases: { arch: Architecture; shape: [number, number, number]; units: number }[] = [
    { arch: 'compact-s2', shape: [34, 47, 3], units: 3 },
    { arch: 'compact', shape: [24, 24, 1], units: 1 },
    { arch: 'seed-cnn', shape: [28, 28, 1], units: 10 },
    { arch: 'mobile', shape: [32, 32, 3], units: 4 },
  ];
  for (const c of cases) {
    it(`${c.arch} ${c.shape.join('x')}, ${c.units === 1 ? 'one sigmoid unit' : `${c.units}-way softmax`}: PyTorch computes what TF.js computes, before and after training, and the loss falls`, async () => {
      const model = buildArchitecture(c.arch, { height: c.shape[0], width: c.shape[1], channels: c.shape[2], classes: c.units, seed: 3 });
      const probe = batch(6, c.shape, c.units, 11);
      const engine = await TorchSteps.start(model, { optimizer: 'adam', learningRate: 3e-3, units: c.units }, { seed: 1 });
      try {
        const before = largestDifference(await engine.predict(probe.x, 6), tfjsPredict(model, probe.x, 6));
        assert.ok(before < 1e-4, `initial weights: largest difference ${before}`);

        const train = batch(16, c.shape, c.units, 5);
        const losses: number[] = [];
        for (let i = 0; i < 15; i++) losses.push((await engine.step(train.x, train.y, 16, 3e-3))[0]);
        assert.ok(losses[14] < losses[0] * 0.7, `loss ${losses[0].toFixed(4)} -> ${losses[14].toFixed(4)}`);

        // The trained weights, batch norm's moving averages included, come back into the TF.js model.
        const trainedBefore = tfjsPredict(model, probe.x, 6);
        await engine.syncModel();
        const tfjsAfter = tfjsPredict(model, probe.x, 6);
        assert.ok(largestDifference(tfjsAfter, trainedBefore) > 1e-3, 'syncModel changed the TF.js model');
        const after = largestDifference(await engine.predict(probe.x, 6), tfjsAfter);
        assert.ok(after < 1e-4, `trained weights: largest difference ${after}`);
        reported.push(`${c.arch}: largest difference ${before.toExponential(1)} before, ${after.toExponential(1)} after 15 steps; loss ${losses[0].toFixed(3)} -> ${losses[14].toFixed(3)}; ${engine.description}`);
      } finally {
        await engine.dispose();
        model.dispose();
      }
    });
  }

  for (const optimizer of ['adam', 'rmsprop', 'sgd'] as const) {
    it(`${optimizer}: steps in PyTorch train the model as the same steps in TF.js do (losses, outputs, weights and batch norm statistics), a last batch of one on a 1x1 map included`, async () => {
      // No dropout (its masks differ between the two), two batch norms, the second over a 1x1 map.
      const make = () =>
        tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }),
            tf.layers.batchNormalization({ momentum: 0.9 }),
            tf.layers.activation({ activation: 'relu' }),
            // No bias before batch norm: its gradient is 0 up to rounding, which Adam would scale up to whole steps.
            tf.layers.conv2d({ filters: 6, kernelSize: 4, useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: 2 }) }),
            tf.layers.batchNormalization({ momentum: 0.9 }),
            tf.layers.reLU({ maxValue: 6 }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
          ],
        });
      const inTfjs = make();
      const inTorch = make();
      const initial = inTfjs.layers.flatMap((l) => l.getWeights().map((w) => w.dataSync().slice()));
      const settings = { optimizer, learningRate: 0.01, units: 3 };
      const tfjsSteps = new TfjsSteps(inTfjs, settings);
      const engine = await TorchSteps.start(inTorch, settings, { seed: 1, threads: 1 });
      try {
        const data = batch(8, [8, 8, 3], 3, 9);
        for (const count of [8, 8, 8, 1]) {
          const [tfjsLoss] = await tfjsSteps.step(data.x, data.y, count, 0.01);
          const [torchLoss] = await engine.step(data.x, data.y, count, 0.01);
          assert.ok(Math.abs(tfjsLoss - torchLoss) < 1e-4, `loss of a batch of ${count}: TF.js ${tfjsLoss}, PyTorch ${torchLoss}`);
        }
        await engine.syncModel();
        let worst = 0;
        let worstAt = '';
        let moved = 0;
        let i = 0;
        inTfjs.layers.forEach((layer, l) =>
          layer.getWeights().forEach((w, k) => {
            const a = w.dataSync();
            const b = inTorch.layers[l].getWeights()[k].dataSync();
            for (let j = 0; j < a.length; j++) {
              if (Math.abs(a[j] - b[j]) > worst) [worst, worstAt] = [Math.abs(a[j] - b[j]), `${layer.weights[k].name}[${j}]: TF.js ${a[j]}, PyTorch ${b[j]}, initially ${initial[i][j]}`];
              moved = Math.max(moved, Math.abs(a[j] - initial[i][j]));
            }
            i++;
          }),
        );
        assert.ok(moved > 0.01, `the steps moved the weights (largest change ${moved})`);
        // Adam scales every gradient to about the learning rate, rounding noise included: a weight
        // whose gradient is 0 up to rounding (behind a unit the ReLU keeps at 0) takes whole steps
        // in one engine and none in the other, whatever their agreement elsewhere. With Adam the
        // trained models are judged by their outputs, within 1e-3; with SGD and RMSProp also
        // weight by weight, within 1e-4.
        const outputs = largestDifference(tfjsPredict(inTfjs, data.x, 8), tfjsPredict(inTorch, data.x, 8));
        assert.ok(outputs < (optimizer === 'adam' ? 1e-3 : 1e-4), `largest difference between the two trained models' outputs: ${outputs}`);
        if (optimizer !== 'adam') assert.ok(worst < 1e-4, `largest difference between the engines' weights after 4 steps: ${worst} at ${worstAt}`);
        reported.push(`${optimizer}: outputs within ${outputs.toExponential(1)} and weights within ${worst.toExponential(1)} of TF.js's after 4 steps (largest change ${moved.toFixed(3)})`);
      } finally {
        await tfjsSteps.dispose();
        await engine.dispose();
        inTfjs.dispose();
        inTorch.dispose();
      }
    });
  }

  it('a diverging run reports a NaN loss, as TF.js does, and the engine goes on answering', async () => {
    const model = buildArchitecture('compact', { height: 16, width: 16, channels: 1, classes: 2, seed: 1 });
    const engine = await TorchSteps.start(model, { optimizer: 'sgd', learningRate: 1e12, units: 2 }, { seed: 1 });
    try {
      const data = batch(8, [16, 16, 1], 2, 1);
      const losses: number[] = [];
      for (let i = 0; i < 6; i++) losses.push((await engine.step(data.x, data.y, 8, 1e12))[0]);
      assert.ok(losses.some(Number.isNaN), `losses: ${losses.join(', ')}`);
      assert.equal((await engine.predict(data.x, 2)).length, 4);
    } finally {
      await engine.dispose();
      model.dispose();
    }
  });

  it('hands batches over in a nameless tmpfs file, and trains exactly as through the pipe without one', async () => {
    const shared = () => fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`edgesight-batches-${process.pid}-`));
    const data = batch(16, [32, 32, 3], 3, 5);
    const losses = async (sharedDir?: string) => {
      const model = buildArchitecture('compact-s2', { height: 32, width: 32, channels: 3, classes: 3, seed: 3 });
      // One thread: oneDNN's reductions then add in a fixed order, so two runs can be compared exactly.
      const engine = await TorchSteps.start(model, { optimizer: 'adam', learningRate: 3e-3, units: 3 }, { seed: 1, threads: 1, sharedDir });
      try {
        assert.deepEqual(shared(), [], 'the batch file has no name: the engine got its descriptor');
        assert.equal((engine as unknown as { batches?: unknown }).batches !== undefined, sharedDir === undefined, 'a batch file exactly when its folder exists');
        const out: number[] = [];
        for (let i = 0; i < 5; i++) out.push((await engine.step(data.x, data.y, 16, 3e-3))[0]);
        return out;
      } finally {
        await engine.dispose();
        model.dispose();
      }
    };
    const viaFile = await losses();
    const viaPipe = await losses('/nonexistent-shm');
    assert.deepEqual(viaFile, viaPipe);
    assert.ok(viaFile[4] < viaFile[0], `loss ${viaFile.join(' -> ')}`);
  });

  it('refuses a layer it does not know, naming the layer', async () => {
    const model = tf.sequential({ layers: [tf.layers.averagePooling2d({ inputShape: [8, 8, 1], poolSize: 2, name: 'smooth' }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    await assert.rejects(TorchSteps.start(model, { optimizer: 'adam', learningRate: 1e-3, units: 2 }, { seed: 1 }), /refused 'build': layer smooth: AveragePooling2D is not supported by the PyTorch engine/);
    model.dispose();
  });

  it('names an interpreter that cannot be started', async () => {
    const model = buildArchitecture('compact', { height: 16, width: 16, channels: 1, classes: 2 });
    await assert.rejects(TorchSteps.start(model, { optimizer: 'adam', learningRate: 1e-3, units: 2 }, { seed: 1, python: '/nonexistent/python3' }), /cannot start \/nonexistent\/python3: spawn \/nonexistent\/python3 ENOENT/);
    model.dispose();
  });

  it('an engine that dies fails the step in flight with the reason, and every later request at once', async () => {
    const model = buildArchitecture('compact', { height: 16, width: 16, channels: 1, classes: 2 });
    const engine = await TorchSteps.start(model, { optimizer: 'adam', learningRate: 1e-3, units: 2 }, { seed: 1 });
    try {
      const data = batch(8, [16, 16, 1], 2, 1);
      const child = (engine as unknown as { child: import('node:child_process').ChildProcess }).child;
      const step = engine.step(data.x, data.y, 8, 1e-3);
      child.kill('SIGKILL');
      await assert.rejects(step, /the PyTorch engine \(\/usr\/bin\/python3\) ended \(SIGKILL\)/);
      await assert.rejects(engine.syncModel(), /ended \(SIGKILL\)/);
    } finally {
      await engine.dispose();
      model.dispose();
    }
  });
});
