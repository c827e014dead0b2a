import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import pino from 'pino';
import { selectBackend } from '../../../src/model/backend';
import { Classifier } from '../../../src/model/classifier';
import type { InferenceEngine } from '../../../src/model/engine/inference-engine';
import { maxOutputDifference, probeInputs } from '../../../src/model/engine/probe-check';
import { engineFromConversion, selectEngine } from '../../../src/model/engine/select-engine';
import { TfjsEngine } from '../../../src/model/engine/tfjs-engine';
import { loadModelPackage, type LoadedModel } from '../../../src/model/model-package';
import { classifierFor, openPackage } from '../../../src/model/open-model';
import { conversionProcess, convertInChild, removeConversion } from '../../../src/model/engine/convert-in-child';
import { ModelPackageError } from '../../../src/util/errors';
import { directorySaveHandler } from '../../../src/model/package-io';
import { readImageFile } from '../../../src/vision/read-image';
import { defaultModelDir, projectRoot, tempDir } from '../../helpers/fixtures';

const fixtures = path.join(projectRoot, 'test', 'fixtures');
const kerasInputs = path.join(fixtures, 'keras-models', 'inputs');
const digits = fs.readdirSync(kerasInputs).filter((f) => f.startsWith('digit_')).map((f) => path.join(kerasInputs, f));
const rgb = fs.readdirSync(kerasInputs).filter((f) => f.startsWith('rgb_')).map((f) => path.join(kerasInputs, f));
const tmDir = path.join(fixtures, 'teachable-machine-2019');
const tmSamples = path.join(tmDir, 'samples');
const tmImages = fs.readdirSync(tmSamples).flatMap((label) => fs.readdirSync(path.join(tmSamples, label)).map((f) => path.join(tmSamples, label, f)));

/** A logger whose lines the test can read. */
function recordingLogger(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }), lines };
}

/** The model's input values for each image, through the preprocessing the daemon uses. */
async function valuesOf(classifier: Classifier, files: string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const file of files) {
    const mat = await readImageFile(file);
    try {
      out.push(classifier.preprocessor.run(mat, new Float32Array(classifier.preprocessor.elements)));
    } finally {
      mat.release();
    }
  }
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('OpenCV DNN engine: converted models against TF.js', function () {
  this.timeout(300_000);
  before(() => selectBackend('auto'));

  const cases: Array<{ name: string; dir: string; images: string[] }> = [
    { name: 'the default model', dir: defaultModelDir, images: digits },
    { name: 'Teachable Machine 2019 (MobileNetV2: depthwise convs, batch norm, ZeroPadding2D, ReLU6, Add)', dir: path.join(fixtures, 'teachable-machine-2019'), images: tmImages },
    { name: 'cats_and_dogs_small_1.h5 (Keras 2, conv-pool, Flatten, sigmoid)', dir: path.join(fixtures, 'keras-models', 'cats_and_dogs_small_1.h5'), images: rgb },
    { name: 'himalrana_mnist_cnn.h5 (Keras 3 HDF5)', dir: path.join(fixtures, 'keras-models', 'himalrana_mnist_cnn.h5'), images: digits },
    { name: 'goubigon_mnist_model.keras', dir: path.join(fixtures, 'keras-models', 'goubigon_mnist_model.keras'), images: digits },
    { name: 'kunritty_mnist_model.keras (same padding, BatchNormalization, GlobalAveragePooling2D)', dir: path.join(fixtures, 'keras-models', 'kunritty_mnist_model.keras'), images: digits },
  ];

  for (const c of cases) {
    it(`${c.name}: runs on OpenCV DNN and agrees with TF.js to 1e-4 on real images, alone and batched`, async () => {
      const loaded = await loadModelPackage(c.dir);
      const { log, lines } = recordingLogger();
      const selection = await selectEngine(loaded, { preference: 'opencv', threads: 1 }, log);
      const reference = new TfjsEngine(loaded.model!, loaded.inputShape, loaded.outputUnits);
      const classifier = new Classifier(loaded, selection.engine, selection.summary);
      try {
        assert.equal(selection.engine.name, 'opencv', `stayed on TF.js: ${selection.summary}`);
        assert.ok(lines.some((l) => /on OpenCV DNN/.test(String(l.msg))), 'the choice is logged');
        const inputs = await valuesOf(classifier, c.images);
        assert.ok(inputs.length >= 4, `${inputs.length} images`);
        let worst = 0;
        for (const x of inputs) {
          const want = reference.run(x, 1).slice();
          worst = Math.max(worst, maxDiff(want, selection.engine.run(x, 1)), maxDiff(want, await selection.engine.runAsync(x, 1)));
        }
        const batch = new Float32Array(inputs.length * inputs[0].length);
        inputs.forEach((x, i) => batch.set(x, i * x.length));
        worst = Math.max(worst, maxDiff(reference.run(batch, inputs.length).slice(), await selection.engine.runAsync(batch, inputs.length)));
        assert.ok(worst <= 1e-4, `max difference ${worst}`);
      } finally {
        classifier.dispose();
      }
    });
  }

  it('the Teachable Machine model on OpenCV DNN classifies all 22 of its sample images as their label', async () => {
    const loaded = await loadModelPackage(path.join(fixtures, 'teachable-machine-2019'));
    const selection = await selectEngine(loaded, { preference: 'opencv', threads: 2 }, undefined);
    const classifier = new Classifier(loaded, selection.engine, selection.summary);
    try {
      assert.equal(selection.engine.name, 'opencv');
      let correct = 0;
      for (const file of tmImages) {
        const mat = await readImageFile(file);
        try {
          const scores = classifier.classify(mat).scores;
          const best = scores[0] >= scores[1] ? 0 : 1;
          if (loaded.metadata.labels[best] === path.basename(path.dirname(file))) correct++;
        } finally {
          mat.release();
        }
      }
      assert.equal(correct, tmImages.length);
    } finally {
      classifier.dispose();
    }
  });

  it('a model with a layer that does not convert stays on TF.js, and the log says which layer', async () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }), tf.layers.layerNormalization(), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    const loaded = fakeLoaded(model);
    const { log, lines } = recordingLogger();
    const selection = await selectEngine(loaded, { preference: 'opencv', threads: 1 }, log);
    assert.equal(selection.engine.name, 'tfjs');
    assert.match(selection.summary, /LayerNormalization/);
    const line = lines.find((l) => l.engine === 'tfjs');
    assert.ok(line, 'a log line says why');
    assert.match(String(line.msg), /stays on TF\.js: not convertible to ONNX: layer .* \(LayerNormalization\)/);
    assert.equal(line.level, 30, 'logged as information, not an error');
    model.dispose();
  });

  it('auto times both engines at load, logs both times and serves the faster', async () => {
    const loaded = await loadModelPackage(defaultModelDir);
    const { log, lines } = recordingLogger();
    const selection = await selectEngine(loaded, { preference: 'auto', threads: 1 }, log);
    try {
      const line = lines.find((l) => typeof l.opencvMs === 'number');
      assert.ok(line, 'a log line with both times');
      const faster = (line.opencvMs as number) < (line.tfjsMs as number) ? 'opencv' : 'tfjs';
      assert.equal(selection.engine.name, faster);
      assert.match(selection.summary, /opencv [\d.]+ ms .* tfjs [\d.]+ ms/);
    } finally {
      loaded.model!.dispose();
    }
  });

  it('a model the conversion process found slower than TF.js stays on TF.js with the times measured there, not converted and timed again here', async () => {
    const conversion = await convertInChild(defaultModelDir, 'auto');
    assert.ok(conversion.ok, conversion.ok ? '' : conversion.why);
    let examined: Awaited<ReturnType<typeof engineFromConversion>>;
    try {
      // TF.js as timed there, made unbeatable.
      examined = await engineFromConversion({ ...conversion, tfjsMs: 1e-6 }, { preference: 'auto', threads: 1 });
    } finally {
      await removeConversion(conversion);
    }
    assert.ok('stayOnTfjs' in examined && 'ms' in examined.stayOnTfjs, JSON.stringify(examined));
    assert.equal(examined.stayOnTfjs.ms.tfjs, 1e-6);
    const loaded = await loadModelPackage(defaultModelDir);
    const { log, lines } = recordingLogger();
    try {
      const selection = await selectEngine(loaded, { preference: 'auto', threads: 1, stayOnTfjs: examined.stayOnTfjs }, log);
      assert.equal(selection.engine.name, 'tfjs');
      assert.match(selection.summary, /^tfjs \(auto: opencv [\d.]+ ms \(1 thread\), tfjs 0\.00 ms per inference; within /);
      // The log's times are the conversion process's: a timing here would not give 1e-6 ms.
      assert.deepEqual(lines.filter((l) => typeof l.tfjsMs === 'number').map((l) => l.tfjsMs), [1e-6]);
    } finally {
      loaded.model!.dispose();
    }
  });

  it('a TF.js backend named in model.backend keeps the model on TF.js without converting it', async () => {
    const loaded = await loadModelPackage(defaultModelDir);
    const selection = await selectEngine(loaded, { preference: 'wasm', threads: 1 }, undefined);
    assert.equal(selection.engine.name, 'tfjs');
    loaded.model!.dispose();
  });

  it('the probe check catches a converted model whose outputs are off by more than 1e-4', async () => {
    const loaded = await loadModelPackage(defaultModelDir);
    const selection = await selectEngine(loaded, { preference: 'opencv', threads: 1 }, undefined);
    const reference = new TfjsEngine(loaded.model!, loaded.inputShape, loaded.outputUnits);
    // Fault injected: the real OpenCV engine with one output nudged by 2e-4.
    const off: InferenceEngine = {
      ...selection.engine,
      name: 'opencv',
      units: selection.engine.units,
      run: (x, n) => selection.engine.run(x, n),
      runAsync: async (x, n) => {
        const out = (await selection.engine.runAsync(x, n)).slice();
        out[0] += 2e-4;
        return out;
      },
      dispose: () => undefined,
    };
    const probes = probeInputs(loaded.inputShape[0] * loaded.inputShape[1] * loaded.inputShape[2], loaded.metadata.preprocess.range);
    assert.ok((await maxOutputDifference(reference, selection.engine, probes)) <= 1e-4);
    const d = await maxOutputDifference(reference, off, probes);
    assert.ok(d > 1e-4 && d < 3e-4, `difference ${d}`);
    loaded.model!.dispose();
  });

  it('applying model.threads again while a model runs on OpenCV DNN (as every hot-swap does) does not crash the process', () => {
    // Before the fix each call rebuilt OpenCV's TBB pool under the running forward: SIGSEGV within a second or two.
    const child = spawnSync(process.execPath, [path.join(__dirname, 'threads-child.js'), tmDir, '3000'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, null, `the process died of ${child.signal}`);
    assert.equal(child.status, 0, child.stderr);
    const runs = Number(/runs (\d+)/.exec(child.stdout)?.[1]);
    assert.ok(runs > 10, `only ${runs} inferences ran`);
  });

  it('the daemon serves a converted model on OpenCV DNN without loading it into its own TF.js (converted in a child process), with the scores TF.js gives', async () => {
    const started = Date.now() - 1000;
    const before = tf.memory();
    const { log, lines } = recordingLogger();
    const classifier = await openPackage(tmDir, { preference: 'auto', threads: 1 }, log);
    try {
      assert.equal(classifier.engine.name, 'opencv', classifier.engineSummary);
      assert.match(classifier.engineSummary, /^opencv \(auto: opencv [\d.]+ ms \(1 thread\), tfjs [\d.]+ ms per inference; within /);
      assert.equal(classifier.loaded.model, undefined);
      assert.equal(tf.memory().numTensors, before.numTensors, 'tensors were made in this process');
      assert.equal(tf.memory().numBytes, before.numBytes, "the weights came into this process's TF.js");
      assert.ok(lines.some((l) => l.engine === 'opencv' && typeof l.tfjsMs === 'number'), 'no log line with both times');
      const reference = new Classifier(await loadModelPackage(tmDir));
      try {
        const files = tmImages.slice(0, 4);
        const inputs = await valuesOf(reference, files);
        for (const [i, x] of inputs.entries()) assert.ok(maxDiff(classifier.scoresFor(x), reference.scoresFor(x)) <= 1e-4, `${files[i]}: scores differ from TF.js's`);
      } finally {
        reference.dispose();
      }
    } finally {
      classifier.dispose();
    }
    assert.ok(!fs.readdirSync(os.tmpdir()).some((n) => n.startsWith('edgesight-onnx-') && fs.statSync(path.join(os.tmpdir(), n)).mtimeMs >= started), 'the converted ONNX file was left in the temporary directory');
  });

  it('a conversion process killed (as by the kernel at the memory limit) refuses the model, naming it, without loading it here', async () => {
    const script = conversionProcess.script;
    conversionProcess.script = path.join(__dirname, 'conversion-killed-child.js');
    try {
      const before = tf.memory();
      await assert.rejects(
        openPackage(tmDir, { preference: 'auto', threads: 1 }, recordingLogger().log),
        (err: unknown) => err instanceof ModelPackageError && err.file === tmDir && /conversion for OpenCV DNN was killed, most likely by the kernel at the memory limit/.test(err.message),
      );
      assert.equal(tf.memory().numBytes, before.numBytes, 'the model was loaded here after all');
    } finally {
      conversionProcess.script = script;
    }
  });

  it('the daemon loads a model that does not convert here and serves it on TF.js, saying why', async () => {
    const dir = tempDir('edgesight-unconvertible-');
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }), tf.layers.layerNormalization(), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    await model.save(directorySaveHandler(dir));
    model.dispose();
    fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ name: 'ln', version: '1', labels: ['a', 'b'] }));
    const { log, lines } = recordingLogger();
    const classifier = await openPackage(dir, { preference: 'auto', threads: 1 }, log);
    try {
      assert.equal(classifier.engine.name, 'tfjs');
      assert.match(classifier.engineSummary, /not convertible to ONNX: layer .*LayerNormalization/);
      assert.ok(lines.some((l) => /stays on TF\.js: not convertible to ONNX/.test(String(l.msg))), 'no log line says why');
      assert.ok(classifier.loaded.model, 'the TF.js model serving it was let go');
    } finally {
      classifier.dispose();
    }
  });

  it('the daemon lets the TF.js copy of a model served on OpenCV DNN go (its tensors freed), and keeps it for a model served on TF.js', async () => {
    const silent = pino({ level: 'silent' });
    const before = tf.memory().numTensors;
    const onOpenCv = await classifierFor(await loadModelPackage(defaultModelDir), { preference: 'opencv', threads: 1 }, silent);
    try {
      assert.equal(onOpenCv.engine.name, 'opencv');
      assert.equal(onOpenCv.loaded.model, undefined, 'the TF.js model is still held');
      assert.equal(tf.memory().numTensors, before, 'the TF.js weights are still in the WASM heap');
      const mat = await readImageFile(digits[0]);
      try {
        assert.equal(onOpenCv.classify(mat).scores.length, onOpenCv.loaded.outputUnits, 'the OpenCV engine serves without it');
      } finally {
        mat.release();
      }
    } finally {
      onOpenCv.dispose();
    }
    const onTfjs = await classifierFor(await loadModelPackage(defaultModelDir), { preference: 'wasm', threads: 1 }, silent);
    try {
      assert.equal(onTfjs.engine.name, 'tfjs');
      assert.ok(onTfjs.loaded.model, 'the model TF.js serves was let go');
      assert.ok(tf.memory().numTensors > before);
    } finally {
      onTfjs.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });
});

/** A LoadedModel around a model built in the test (real TF.js layers, no package on disk). */
function fakeLoaded(model: tf.LayersModel): LoadedModel {
  const [, h, w, c] = model.inputs[0].shape as number[];
  return {
    dir: '(built in the test)',
    format: 'layers-model',
    model,
    metadata: { name: 't', version: '1', labels: ['a', 'b'], outputActivation: 'softmax', preprocess: { width: w, height: h, channels: c, resizeMode: 'stretch', colorOrder: 'rgb', range: [0, 1], invert: false, contrast: 'none' } } as unknown as LoadedModel['metadata'],
    inputShape: [h, w, c],
    outputUnits: 2,
    parameters: model.countParams(),
    weightBytes: 0,
  };
}
