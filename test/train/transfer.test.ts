import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/model/backend';
import { loadModelPackage } from '../../src/model/model-package';
import { directorySaveHandler, METADATA_JSON } from '../../src/model/package-io';
import { buildArchitecture } from '../../src/train/architectures';
import { loadBase } from '../../src/train/base-model';
import { trainingSpec } from '../../src/train/options';
import { runTraining } from '../../src/train/run-training';
import { buildHead, composeModel, unfreezeLast } from '../../src/train/transfer-model';
import { registerWasmTrainingKernels } from '../../src/train/wasm-gradients';
import { runCliAsync, teachableMachineFixture, tempDir } from '../helpers/fixtures';

const TM_EMBEDDING_LAYER = 'global_average_pooling2d_GlobalAveragePooling2D1';

interface TransferMetadata {
  labels: string[];
  preprocess: { width: number; height: number; resizeMode: string; range: number[]; colorOrder: string };
  training: {
    architecture: string;
    transfer: { base: string; baseConventions: string; layer: string; defaultCut: boolean; pooled: boolean; embeddingSize: number; augmentViews: number; headEpochs: number; fineTune?: { layers: number; epochs: number; kept: boolean; trainableLayers: string[] } };
    history: Array<{ epoch: number }>;
  };
}

const readMetadata = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, METADATA_JSON), 'utf8')) as TransferMetadata;

/**
 * The Teachable Machine samples split the same way every run: per class, files 0-7 to train on
 * (the trainer holds 2 of them out for its own validation), 8-10 never seen by training.
 */
function splitSamples(root: string): { train: string; heldOut: string; heldOutFiles: Array<{ file: string; label: string }> } {
  const train = path.join(root, 'train');
  const heldOut = path.join(root, 'held-out');
  const heldOutFiles: Array<{ file: string; label: string }> = [];
  for (const label of ['Class 1', 'Class 2']) {
    for (let i = 0; i <= 10; i++) {
      const target = path.join(i <= 7 ? train : heldOut, label, `${i}.png`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(path.join(teachableMachineFixture, 'samples', label, `${i}.png`), target);
      if (i > 7) heldOutFiles.push({ file: target, label });
    }
  }
  return { train, heldOut, heldOutFiles };
}

describe('edgesight train --base (transfer learning)', function () {
  this.timeout(300_000);
  let root: string;
  let split: ReturnType<typeof splitSamples>;

  before(async () => {
    await selectBackend('auto');
    if (tf.getBackend() === 'wasm') registerWasmTrainingKernels();
    root = tempDir('edgesight-transfer-');
    split = splitSamples(root);
  });

  it('trains a head on the Teachable Machine samples with that export as the base; predict classifies every held-out sample, info shows its preprocessing, the daemon loader sees one model', async () => {
    const out = path.join(root, 'tm-head');
    const run = await runCliAsync(['train', '--data', split.train, '--out', out, '--base', teachableMachineFixture, '--validation-split', '0.25', '--epochs', '15', '--batch-size', '8', '--seed', '3'], {}, 240_000);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /transfer learning from .*teachable-machine-2019 \(Teachable Machine export\), frozen up to layer 'global_average_pooling2d_GlobalAveragePooling2D1' \(the default cut\)/);
    assert.match(run.stderr, /1280 values each/);

    const predict = await runCliAsync(['predict', '--model', out, '--json', path.join(split.heldOut, 'Class 1'), path.join(split.heldOut, 'Class 2')]);
    assert.equal(predict.code, 0, predict.stderr);
    const lines = predict.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; label: string; confidence: number });
    assert.equal(lines.length, split.heldOutFiles.length);
    for (const { file, label } of split.heldOutFiles) {
      const line = lines.find((l) => path.resolve(l.file) === path.resolve(file));
      assert.ok(line, `no prediction for ${file}`);
      assert.equal(line.label, label, `${file}: predicted ${line.label} (${line.confidence})`);
    }

    const info = await runCliAsync(['info', out, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const shown = JSON.parse(info.stdout) as { input: { width: number; height: number; channels: number }; preprocess: { resizeMode: string; colorOrder: string; range: number[] }; training: { transfer: { layer: string } } };
    assert.deepEqual(shown.input, { height: 224, width: 224, channels: 3 });
    assert.equal(shown.preprocess.resizeMode, 'center-crop');
    assert.equal(shown.preprocess.colorOrder, 'rgb');
    assert.deepEqual(shown.preprocess.range, [-1, 1]);
    const text = await runCliAsync(['info', out]);
    assert.match(text.stdout, /preprocess {2}resize center-crop, RGB, range \[-1, 1\]/);

    const meta = readMetadata(out);
    assert.equal(meta.training.architecture, 'transfer');
    assert.equal(meta.training.transfer.base, path.resolve(teachableMachineFixture));
    assert.equal(meta.training.transfer.baseConventions, 'teachable-machine');
    assert.equal(meta.training.transfer.layer, TM_EMBEDDING_LAYER);
    assert.equal(meta.training.transfer.defaultCut, true);
    assert.equal(meta.training.transfer.fineTune, undefined);
    assert.match(fs.readFileSync(path.join(out, 'report', 'report.html'), 'utf8'), /transfer-learned from .*teachable-machine-2019/);

    // One model.json, one shard, image in and classes out: what the daemon swaps in.
    assert.deepEqual(fs.readdirSync(out).filter((f) => f.endsWith('.json') || f.endsWith('.bin')).sort(), ['metadata.json', 'model.json', 'weights.bin']);
    const loaded = await loadModelPackage(out);
    try {
      assert.equal(loaded.format, 'layers-model');
      assert.deepEqual(loaded.inputShape, [224, 224, 3]);
      assert.equal(loaded.outputUnits, 2);
      assert.deepEqual(loaded.metadata.labels, ['Class 1', 'Class 2']);
      assert.equal(loaded.metadata.preprocess.resizeMode, 'center-crop');
    } finally {
      loaded.model!.dispose();
    }
  });

  it('refuses an unknown --base-layer listing the valid names, and options the base decides', async () => {
    const bad = await runCliAsync(['train', '--data', split.train, '--out', path.join(root, 'never'), '--base', teachableMachineFixture, '--base-layer', 'no_such_layer']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--base-layer 'no_such_layer' is not a layer of .*; its layers are: .*Conv1_pad.*out_relu, global_average_pooling2d_GlobalAveragePooling2D1, dense_Dense1, dense_Dense2/);
    const size = await runCliAsync(['train', '--data', split.train, '--out', path.join(root, 'never'), '--base', teachableMachineFixture, '--size', '96x96']);
    assert.equal(size.code, 2);
    assert.match(size.stderr, /--size cannot be used with --base/);
    const orphan = await runCliAsync(['train', '--data', split.train, '--out', path.join(root, 'never'), '--fine-tune', '3']);
    assert.equal(orphan.code, 2);
    assert.match(orphan.stderr, /--fine-tune needs --base MODEL/);
    assert.ok(!fs.existsSync(path.join(root, 'never')));
  });

  it('cuts a plain Sequential before its dense block by default: compact at its global pooling, seed-cnn at its Flatten', async () => {
    for (const [architecture, expected] of [['compact', 'GlobalAveragePooling2D'], ['seed-cnn', 'Flatten']] as const) {
      const dir = path.join(root, `base-${architecture}`);
      const model = buildArchitecture(architecture, { height: 32, width: 32, channels: 3, classes: 3, seed: 1 });
      const wanted = model.layers.find((l) => l.getClassName() === expected)!.name;
      await model.save(directorySaveHandler(dir));
      model.dispose();
      fs.writeFileSync(path.join(dir, METADATA_JSON), JSON.stringify({ labels: ['a', 'b', 'c'] }));
      const base = await loadBase(dir);
      try {
        assert.equal(base.layer, wanted, architecture);
        assert.equal(base.pooled, false);
        assert.deepEqual(base.extractor.outputs[0].shape, [null, base.embeddingSize]);
      } finally {
        base.dispose();
      }
    }
  });

  it('fine-tunes the last layers with augmented views: the report says so, and the base keeps its BatchNormalization statistics', async () => {
    const out = path.join(root, 'tm-fine');
    const run = await runCliAsync(['train', '--data', split.train, '--out', out, '--base', teachableMachineFixture, '--base-layer', 'out_relu', '--validation-split', '0.25', '--epochs', '4', '--batch-size', '8', '--rotation-range', '10', '--augment-views', '3', '--fine-tune', '12', '--fine-tune-epochs', '2', '--seed', '1'], {}, 240_000);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /12 training images x 3 views/);
    assert.match(run.stderr, /fine-tune epoch 2\/2/);
    const t = readMetadata(out).training;
    assert.equal(t.transfer.layer, 'out_relu');
    assert.equal(t.transfer.pooled, true);
    assert.equal(t.transfer.augmentViews, 3);
    assert.equal(t.transfer.fineTune?.layers, 12);
    assert.equal(t.transfer.fineTune?.epochs, 2);
    assert.ok(t.transfer.fineTune?.trainableLayers.includes('Conv_1'), JSON.stringify(t.transfer.fineTune));
    // Kept (it lowered the validation loss with this seed), so the weights below are the tuned ones.
    assert.equal(t.transfer.fineTune?.kept, true, JSON.stringify(t.history));
    assert.equal(t.history.length, t.transfer.headEpochs + 2);

    const [tuned, original] = [await loadModelPackage(out), await loadModelPackage(teachableMachineFixture)];
    try {
      const weight = (m: tf.LayersModel, name: string) => m.weights.find((w) => w.originalName === name)!.read().dataSync();
      for (const name of ['Conv_1_bn/moving_mean', 'Conv_1_bn/moving_variance', 'block_16_project_BN/moving_mean']) {
        assert.deepEqual(Array.from(weight(tuned.model as tf.LayersModel, name)), Array.from(weight(original.model as tf.LayersModel, name)), name);
      }
      // The unfrozen layers did learn, so unchanged statistics are not for want of training.
      assert.notDeepEqual(Array.from(weight(tuned.model as tf.LayersModel, 'Conv_1/kernel')), Array.from(weight(original.model as tf.LayersModel, 'Conv_1/kernel')));
      // Far from the cut, nothing was unfrozen: the first convolution is the base's own.
      assert.deepEqual(Array.from(weight(tuned.model as tf.LayersModel, 'Conv1/kernel')), Array.from(weight(original.model as tf.LayersModel, 'Conv1/kernel')));
    } finally {
      tuned.model!.dispose();
      original.model!.dispose();
    }
  });

  it('computes the fine-tuning gradients of the last 50 MobileNet layers on WASM as the cpu backend does (stride-2 depthwise and padding included)', async function () {
    if (tf.getBackend() !== 'wasm') this.skip();
    const gradients = async (backend: string) => {
      await tf.setBackend(backend);
      const base = await loadBase(teachableMachineFixture);
      const head = buildHead(base.embeddingSize, 16, 0, 2, 1);
      const model = composeModel(base, head);
      const layers = unfreezeLast(base, 50);
      const x = tf.randomUniform([2, 224, 224, 3], -1, 1, 'float32', 3);
      const y = tf.oneHot([0, 1], 2);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, model.trainableWeights.map((w) => w.read() as tf.Variable));
      const out = model.trainableWeights.map((w) => ({ name: w.originalName, values: grads[(w.read() as tf.Variable).name]?.dataSync().slice() }));
      tf.dispose([value, x, y, ...Object.values(grads)]);
      head.weights.forEach((w) => w.dispose());
      base.dispose();
      return { layers, out };
    };
    const wasm = await gradients('wasm');
    const cpu = await gradients('cpu');
    await tf.setBackend('wasm');
    assert.ok(wasm.layers.includes('block_13_depthwise'), `stride-2 block covered: ${wasm.layers.join(', ')}`);
    assert.equal(wasm.out.length, cpu.out.length);
    for (let i = 0; i < cpu.out.length; i++) {
      const a = wasm.out[i].values!;
      const b = cpu.out[i].values!;
      assert.equal(wasm.out[i].name, cpu.out[i].name);
      let num = 0;
      let den = 0;
      for (let k = 0; k < b.length; k++) {
        num += (a[k] - b[k]) ** 2;
        den += b[k] ** 2;
      }
      assert.ok(Math.sqrt(num / Math.max(den, 1e-30)) < 1e-3, `${cpu.out[i].name}: relative difference ${Math.sqrt(num / den)}`);
    }
  });

  it('leaves no tensor behind after a transfer run with fine-tuning', async () => {
    const spec = trainingSpec({ data: split.train, out: path.join(root, 'leak'), base: teachableMachineFixture, 'validation-split': '0.25', epochs: '2', 'batch-size': '8', 'fine-tune': '4', 'fine-tune-epochs': '1' });
    const before = tf.memory().numTensors;
    await runTraining(spec, () => {});
    assert.equal(tf.memory().numTensors, before);
  });
});
