import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/model/backend';
import { Classifier } from '../../src/model/classifier';
import { loadModelPackage } from '../../src/model/model-package';
import { findDataset, fingerprint } from '../../src/train/dataset';
import { loadImages } from '../../src/train/images';
import { fit, evaluateSet, predictSet } from '../../src/train/trainer';
import { seedCnn } from '../../src/train/architectures';
import { registerWasmTrainingKernels } from '../../src/train/wasm-gradients';
import { cv } from '../../src/vision/cv';
import { Preprocessor } from '../../src/vision/preprocess';
import { writeShapesDataset } from '../helpers/datasets';
import { json, startTestDaemon, waitUntil } from '../helpers/daemon';
import { cliPath, runCliAsync, tempDir } from '../helpers/fixtures';

interface Metadata {
  labels: string[];
  outputActivation: string;
  preprocess: { width: number; height: number; channels: number };
  training: { architecture: string; bestEpoch: number; interrupted: boolean; history: Array<{ valLoss: number }>; dataset: { counts: Array<{ label: string; train: number; validation: number }>; fingerprint: string }; metrics: { validationAccuracy: number }; versions: Record<string, string> };
}

const readMetadata = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'metadata.json'), 'utf8')) as Metadata;

/**
 * Starts `edgesight train` on `data` for 500 epochs and resolves once its second epoch has begun;
 * `exited` then resolves to everything it wrote on stderr, once it has exited.
 */
async function trainPastEpochTwo(data: string, out: string, args: string[], ownGroup: boolean): Promise<{ child: ChildProcess; exited: Promise<string> }> {
  const child = spawn(process.execPath, [cliPath, 'train', '--data', data, '--out', out, '--size', '32x32', '--architecture', 'seed-cnn', '--epochs', '500', '--patience', '0', '--batch-size', '16', ...args], { detached: ownGroup });
  let stderr = '';
  const exited = new Promise<string>((resolve) => child.on('close', () => resolve(stderr)));
  await new Promise<void>((resolve) =>
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (/epoch 2\/500/.test(stderr)) resolve();
    }),
  );
  return { child, exited };
}

describe('edgesight train and evaluate', function () {
  this.timeout(240_000);
  let root: string;
  let shapes3: string;
  /** The same three shapes drawn with another seed: images the model never saw, for evaluate. */
  let shapes3HeldOut: string;
  let shapes2: string;
  let gray3: string;

  before(async () => {
    await selectBackend('auto');
    if (tf.getBackend() === 'wasm') registerWasmTrainingKernels();
    root = tempDir('edgesight-train-');
    shapes3 = path.join(root, 'shapes3');
    writeShapesDataset(shapes3, { classes: ['circle', 'square', 'triangle'], perClass: 40, size: 32, seed: 3 });
    shapes3HeldOut = path.join(root, 'shapes3-held-out');
    writeShapesDataset(shapes3HeldOut, { classes: ['circle', 'square', 'triangle'], perClass: 20, size: 32, seed: 33 });
    shapes2 = path.join(root, 'shapes2');
    writeShapesDataset(shapes2, { classes: ['circle', 'square'], perClass: 120, size: 32, seed: 4 });
    gray3 = path.join(root, 'gray3');
    writeShapesDataset(gray3, { classes: ['circle', 'square', 'triangle'], perClass: 80, size: 32, gray: true, seed: 5 });
  });

  it('trains RGB shapes (3 classes) well above chance, writes a loadable package with its report, and evaluate agrees', async () => {
    const out = path.join(root, 'model3');
    const run = await runCliAsync(['train', '--data', shapes3, '--out', out, '--size', '32x32', '--architecture', 'seed-cnn', '--epochs', '10', '--batch-size', '16', '--seed', '7'], {}, 200_000);
    assert.equal(run.code, 0, run.stderr);
    // Counts per class come before any training.
    assert.ok(run.stderr.indexOf('circle                       32 train') < run.stderr.indexOf('epoch 1/10'), run.stderr);
    const meta = readMetadata(out);
    assert.deepEqual(meta.labels, ['circle', 'square', 'triangle']);
    assert.equal(meta.training.architecture, 'seed-cnn');
    assert.deepEqual(meta.training.dataset.counts.map((c) => [c.train, c.validation]), [[32, 8], [32, 8], [32, 8]]);
    assert.match(meta.training.dataset.fingerprint, /^sha256:[0-9a-f]{64}$/);
    assert.ok(meta.training.metrics.validationAccuracy >= 0.7, `validation accuracy ${meta.training.metrics.validationAccuracy} (chance: 0.33)`);
    assert.ok(meta.training.versions.tfjs && meta.training.versions.opencv);
    for (const f of ['report.html', 'curves.png', 'confusion.png', 'misclassified.png']) assert.ok(fs.statSync(path.join(out, 'report', f)).size > 1000, f);
    const html = fs.readFileSync(path.join(out, 'report', 'report.html'), 'utf8');
    assert.match(html, /<svg[^>]*aria-label="loss"/);
    assert.match(html, /data:image\/png;base64,/);
    assert.doesNotMatch(html, /(src|href)="https?:/, 'self-contained: nothing loaded from elsewhere');

    const info = await runCliAsync(['info', out, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const evaluation = await runCliAsync(['evaluate', '--model', out, '--data', shapes3HeldOut, '--json']);
    assert.equal(evaluation.code, 0, evaluation.stderr);
    const metrics = JSON.parse(evaluation.stdout) as { accuracy: number; total: number; confusion: number[][]; perClass: Array<{ label: string; f1: number }> };
    assert.equal(metrics.total, 60);
    assert.equal(metrics.confusion.flat().reduce((a, b) => a + b, 0), 60);
    assert.ok(metrics.accuracy >= 0.7, `held-out accuracy ${metrics.accuracy} (chance: 0.33)`);
    const text = await runCliAsync(['evaluate', '--model', out, '--data', shapes3HeldOut]);
    assert.match(text.stdout, /accuracy \d+\.\d%/);
    assert.match(text.stdout, /confusion matrix/);
  });

  it('trains a binary RGB model as one sigmoid unit and a grayscale compact model', async () => {
    const binary = path.join(root, 'binary');
    const b = await runCliAsync(['train', '--data', shapes2, '--out', binary, '--size', '32x32', '--class-mode', 'binary', '--architecture', 'seed-cnn', '--epochs', '8', '--batch-size', '16'], {}, 200_000);
    assert.equal(b.code, 0, b.stderr);
    const bm = readMetadata(binary);
    assert.equal(bm.outputActivation, 'sigmoid');
    assert.ok(bm.training.metrics.validationAccuracy >= 0.75, `binary accuracy ${bm.training.metrics.validationAccuracy} (chance: 0.5)`);
    const loaded = await loadModelPackage(binary);
    assert.deepEqual(loaded.model!.outputs[0].shape, [null, 1]);
    loaded.model!.dispose();

    const gray = path.join(root, 'gray');
    const g = await runCliAsync(['train', '--data', gray3, '--out', gray, '--size', '32x32', '--color', 'grayscale', '--epochs', '12', '--batch-size', '16', '--rotation-range', '10', '--width-shift-range', '0.1', '--zoom-range', '0.1', '--horizontal-flip'], {}, 200_000);
    assert.equal(g.code, 0, g.stderr);
    const gm = readMetadata(gray);
    assert.equal(gm.preprocess.channels, 1);
    assert.ok(gm.training.metrics.validationAccuracy > 0.45, `grayscale compact accuracy ${gm.training.metrics.validationAccuracy} (chance: 0.33)`);
  });

  it('the trained package runs in the daemon: deployed with its self-test images, it serves the next frames', async () => {
    const out = path.join(root, 'model3');
    const meta = readMetadata(out) as Metadata & { name: string; version: string };
    const selftest = path.join(out, 'selftest');
    assert.ok(fs.existsSync(selftest) && fs.readdirSync(selftest).length >= 1, 'self-test images were exported');
    const d = await startTestDaemon();
    try {
      const result = await runCliAsync(['deploy', out, '--to', d.base, '--token', d.token]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`now serving ${meta.name} ${meta.version} \\(3 labels\\)`));
      const seen = await waitUntil('a frame classified by the new model', async () => {
        const latest = (await json(fetch(`${d.base}/api/predictions/latest`, { headers: d.authHeaders }))) as { topk: Array<{ label: string }> };
        return latest.topk.every((t) => ['circle', 'square', 'triangle'].includes(t.label)) ? latest.topk : undefined;
      });
      assert.equal(seen.length, 3, 'top-3 of the three shape labels');
    } finally {
      await d.stop();
    }
  });

  it('preprocesses exactly as the daemon does: training-path and Classifier predictions are identical', async () => {
    const out = path.join(root, 'model3');
    const loaded = await loadModelPackage(out);
    const preprocessor = new Preprocessor(loaded.metadata.preprocess);
    const files = findDataset(shapes3, 0.2, 7);
    const { images } = await loadImages(files.validation, preprocessor);
    const trainingPath = predictSet(loaded.model as tf.LayersModel, images, preprocessor, 8);
    const classifier = new Classifier(loaded);
    const units = loaded.metadata.labels.length;
    let maxDiff = 0;
    images.files.forEach((file, i) => {
      const mat = cv.imread(file);
      const { scores } = classifier.classify(mat);
      mat.release();
      for (let k = 0; k < units; k++) maxDiff = Math.max(maxDiff, Math.abs(scores[k] - trainingPath[i * units + k]));
    });
    classifier.dispose();
    assert.ok(images.files.length === 24 && maxDiff < 1e-6, `largest difference ${maxDiff} over ${images.files.length} images`);
  });

  it('keeps the best weights by validation loss and stops early when validation stops improving', async () => {
    const preprocessor = new Preprocessor({ width: 32, height: 32, channels: 3, resizeMode: 'stretch', colorOrder: 'rgb', range: [0, 1], invert: false, contrast: 'none' });
    const files = findDataset(shapes3, 0.2, 7);
    const { images: train } = await loadImages(files.train, preprocessor);
    const { images: validation } = await loadImages(files.validation, preprocessor);
    // Validation labels reversed: circles now say triangle and triangles circle (the squares in
    // the middle keep theirs), so once the model learns the shapes validation loss rises.
    validation.labels.reverse();
    const model = seedCnn({ height: 32, width: 32, channels: 3, classes: 3, seed: 2 });
    const result = await fit(model, { train, validation }, preprocessor, 3, { epochs: 30, batchSize: 16, optimizer: 'adam', learningRate: 1e-3, patience: 3, lrPatience: 0, lrFactor: 0.5, minLearningRate: 0, seed: 1 });
    assert.ok(result.stoppedEarly && result.history.length < 30, `ran ${result.history.length} epochs`);
    const losses = result.history.map((h) => h.valLoss);
    const best = losses.indexOf(Math.min(...losses)) + 1;
    assert.equal(result.bestEpoch, best);
    assert.equal(result.history.length, best + 3, 'stops after `patience` epochs without improvement');
    const now = evaluateSet(model, validation, preprocessor, 3, 16);
    assert.ok(Math.abs(now.loss - losses[best - 1]) < 1e-4, `the model holds epoch ${best}'s weights: loss ${now.loss} vs ${losses[best - 1]}`);
    model.dispose();
  });

  it('stops cleanly on Ctrl-C and keeps the best epoch so far', async () => {
    const out = path.join(root, 'interrupted');
    // In its own process group, signalled as a terminal's Ctrl-C is: every process of the group (the PyTorch engine too) gets it.
    const run = await trainPastEpochTwo(shapes3, out, [], true);
    process.kill(-run.child.pid!, 'SIGINT');
    const stderr = await run.exited;
    assert.equal(run.child.exitCode, 130, stderr);
    assert.match(stderr, /training steps on PyTorch/, 'the engine that has to survive the group\'s SIGINT ran');
    const meta = readMetadata(out);
    assert.equal(meta.training.interrupted, true);
    assert.ok(meta.training.bestEpoch >= 1 && meta.training.history.length >= 2, stderr);
    assert.ok(fs.existsSync(path.join(out, 'report', 'report.html')));
  });

  it('trains on PyTorch by default where it starts, on TF.js when asked, and says which', async () => {
    const torch = await runCliAsync(['train', '--data', shapes3, '--out', path.join(root, 'engine-torch'), '--size', '32x32', '--epochs', '1', '--batch-size', '16'], {}, 120_000);
    assert.equal(torch.code, 0, torch.stderr);
    assert.match(torch.stderr, /training steps on PyTorch [\d.]+\w*, \d+ threads?;/);
    assert.match(readMetadata(path.join(root, 'engine-torch')).training.versions.steps, /^PyTorch /);
    const tfjs = await runCliAsync(['train', '--data', shapes3, '--out', path.join(root, 'engine-tfjs'), '--size', '32x32', '--epochs', '1', '--batch-size', '16', '--engine', 'tfjs'], {}, 120_000);
    assert.equal(tfjs.code, 0, tfjs.stderr);
    assert.match(tfjs.stderr, /training steps on TF\.js wasm;/);
    assert.equal(readMetadata(path.join(root, 'engine-tfjs')).training.versions.steps, 'TF.js wasm');
  });

  it('without PyTorch, auto trains on TF.js and says why; --engine torch stops with the reason', async () => {
    const auto = await runCliAsync(['train', '--data', shapes3, '--out', path.join(root, 'engine-fallback'), '--size', '32x32', '--epochs', '1', '--batch-size', '16', '--python', '/nonexistent/python3'], {}, 120_000);
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stderr, /training steps on TF\.js: the PyTorch engine did not start \(cannot start \/nonexistent\/python3: spawn \/nonexistent\/python3 ENOENT; Debian's python3-torch provides it/);
    assert.match(auto.stderr, /training steps on TF\.js wasm;/);
    const forced = await runCliAsync(['train', '--data', shapes3, '--out', path.join(root, 'engine-forced'), '--size', '32x32', '--epochs', '1', '--engine', 'torch', '--python', '/nonexistent/python3'], {}, 120_000);
    assert.equal(forced.code, 1, forced.stderr);
    assert.match(forced.stderr, /cannot start \/nonexistent\/python3/);
    assert.equal(fs.existsSync(path.join(root, 'engine-forced')), false, 'no package written');
  });

  it('a PyTorch engine killed mid-run (out of memory, say) stops training as Ctrl-C does: the best epoch is written, exit 1 with the reason', async () => {
    const out = path.join(root, 'engine-killed');
    const run = await trainPastEpochTwo(shapes3, out, ['--engine', 'torch'], false);
    const { child } = run;
    const engines = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter((pid) => /steps\.py/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')));
    assert.equal(engines.length, 1, `one engine process under the trainer: ${engines.join(', ')}`);
    process.kill(Number(engines[0]), 'SIGKILL');
    const stderr = await run.exited;
    assert.equal(child.exitCode, 1, stderr);
    assert.match(stderr, /training stopped: the PyTorch engine \(\/usr\/bin\/python3\) ended \(SIGKILL\)/);
    assert.match(stderr, /\(the package holds epoch \d+, the best before that\)/);
    const meta = readMetadata(out);
    assert.ok(meta.training.bestEpoch >= 1 && meta.training.history.length >= 2, stderr);
    assert.ok(fs.existsSync(path.join(out, 'report', 'report.html')));
    const loaded = await loadModelPackage(out);
    assert.deepEqual(loaded.metadata.labels, ['circle', 'square', 'triangle']);
    loaded.model?.dispose();
  });

  it('fingerprints exactly the images used', () => {
    const a = fingerprint(findDataset(shapes2, 0.2, 1));
    assert.equal(fingerprint(findDataset(shapes2, 0.2, 1)), a);
    assert.notEqual(fingerprint(findDataset(shapes2, 0.2, 2)), a, 'another split is another dataset');
  });

  describe('refuses a dataset it cannot use, before training, naming what is wrong', () => {
    const cases: Array<{ name: string; make: (dir: string) => void; message: RegExp }> = [
      { name: 'a folder that does not exist', make: () => undefined, message: /no such folder/ },
      { name: 'a folder without images', make: (dir) => fs.mkdirSync(path.join(dir, 'cat'), { recursive: true }), message: /no images found/ },
      { name: 'a single class', make: (dir) => writeShapesDataset(dir, { classes: ['circle'], perClass: 5 }), message: /only one class \('circle'\)/ },
      {
        name: 'an empty class',
        make: (dir) => {
          writeShapesDataset(dir, { classes: ['circle', 'square'], perClass: 5 });
          fs.mkdirSync(path.join(dir, 'triangle'));
        },
        message: /class 'triangle' .* has no images/,
      },
      { name: 'binary class mode with three classes', make: (dir) => writeShapesDataset(dir, { classes: ['circle', 'square', 'triangle'], perClass: 5 }), message: /binary needs exactly two classes/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const dir = path.join(tempDir('edgesight-bad-'), 'data');
        c.make(dir);
        const run = await runCliAsync(['train', '--data', dir, '--out', path.join(root, 'never'), '--class-mode', c.name.startsWith('binary') ? 'binary' : 'categorical']);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, c.message);
        assert.doesNotMatch(run.stderr, /epoch 1\//);
        assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      });
    }

    it('lists corrupt and unreadable images and trains on the rest', async () => {
      const dir = path.join(tempDir('edgesight-corrupt-'), 'data');
      writeShapesDataset(dir, { classes: ['circle', 'square'], perClass: 12, size: 32 });
      fs.writeFileSync(path.join(dir, 'circle', 'broken.png'), 'not a png at all');
      const truncated = fs.readFileSync(path.join(dir, 'square', 'square-000.png'));
      fs.writeFileSync(path.join(dir, 'square', 'truncated.jpg'), truncated.subarray(0, 40));
      const run = await runCliAsync(['train', '--data', dir, '--out', path.join(tempDir(), 'm'), '--size', '32x32', '--architecture', 'seed-cnn', '--epochs', '1']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /skipped 2 image\(s\) that could not be read/);
      assert.match(run.stderr, /broken\.png/);
      assert.match(run.stderr, /truncated\.jpg/);
    });
  });
});
