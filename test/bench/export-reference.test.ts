import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend';
import { exportReferenceModel, readExportedWeight, PROBES_BIN, WEIGHTS_BIN, type ExportedTopology } from '../../src/bench/export-reference';
import { referenceUnavailable, REFERENCE_PYTHON } from '../../src/bench/reference';
import { prepareReference } from '../../src/bench/reference-input';
import { loadModelPackage, type LoadedModel } from '../../src/model/model-package';
import { directorySaveHandler, METADATA_JSON } from '../../src/model/package-io';
import { thirtyFpsClip } from '../helpers/daemon';
import { defaultModelDir, projectRoot, teachableMachineFixture, tempDir } from '../helpers/fixtures';

const LOOP = path.join(projectRoot, 'bench', 'reference', 'loop.py');

/**
 * A small functional model with every kind of layer the reference must translate in the ways
 * that go wrong: asymmetric padding (ZeroPadding2D, 'same' with stride 2), depthwise with a
 * multiplier, batch norm with real statistics, ReLU6, a residual Add, Concatenate on the
 * channel axis, 'same' max pooling, and Flatten of a multi-channel map into Dense (NHWC order).
 */
async function writeLayeredPackage(dir: string): Promise<void> {
  const seed = (n: number) => tf.initializers.glorotUniform({ seed: n });
  const input = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, useBias: false, kernelInitializer: seed(1) }).apply(x) as tf.SymbolicTensor;
  const bn1 = tf.layers.batchNormalization({ epsilon: 1e-3 });
  x = bn1.apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6 }).apply(x) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, depthwiseInitializer: seed(2), biasInitializer: seed(7) }).apply(x) as tf.SymbolicTensor;
  const bn2 = tf.layers.batchNormalization({});
  const a = tf.layers.activation({ activation: 'relu6' }).apply(bn2.apply(dw)) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 8, kernelSize: 1, kernelInitializer: seed(3) }).apply(a) as tf.SymbolicTensor;
  x = tf.layers.add().apply([a, b]) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: seed(4) }).apply(x) as tf.SymbolicTensor;
  const pooled = tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.concatenate({ axis: -1 }).apply([x, pooled]) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 5, activation: 'tanh', kernelInitializer: seed(5) }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: seed(6) }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  // Batch norm with statistics far from the identity, so that a wrong formula or epsilon shows.
  for (const [bn, n] of [[bn1, 4], [bn2, 8]] as const) {
    const ramp = (from: number, step: number) => tf.tensor1d(Array.from({ length: n }, (_, i) => from + step * i));
    bn.setWeights([ramp(0.5, 0.25), ramp(-0.3, 0.1), ramp(-0.2, 0.07), ramp(0.4, 0.3)]);
  }
  await model.save(directorySaveHandler(dir));
  model.dispose();
  fs.writeFileSync(path.join(dir, METADATA_JSON), JSON.stringify({ name: 'layered', labels: ['a', 'b', 'c'], preprocess: { range: [-1, 1] } }));
}

function checkInPython(exportDir: string, clip = '/nonexistent.avi', frameProbe?: string) {
  const args = [LOOP, exportDir, clip, '--check-only', ...(frameProbe ? ['--frame-probe', frameProbe] : [])];
  const r = spawnSync(REFERENCE_PYTHON, args, { encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return { code: r.status, stderr: r.stderr, result: line ? (JSON.parse(line.slice(7)) as Record<string, unknown>) : undefined };
}

describe('bench: exporting a model for the reference loop', () => {
  let dir: string;
  let loaded: LoadedModel;
  let exported: string;
  let topology: ExportedTopology;

  before(async function () {
    this.timeout(30_000);
    // Another test file may have left TF.js between backends: settle on one before building.
    await selectBackend('auto');
    dir = tempDir('edgesight-export-');
    await writeLayeredPackage(path.join(dir, 'package'));
    loaded = await loadModelPackage(path.join(dir, 'package'));
    exported = path.join(dir, 'exported');
    topology = exportReferenceModel(loaded, exported);
  });
  after(() => {
    loaded?.model?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes every computing layer in order, with TF\'s "same" padding as explicit pads and inference no-ops left out', () => {
    assert.deepEqual(topology.layers.map((l) => l.op), ['ZeroPadding2D', 'Conv2D', 'BatchNormalization', 'ReLU', 'DepthwiseConv2D', 'BatchNormalization', 'Activation', 'Conv2D', 'Add', 'Conv2D', 'MaxPooling2D', 'Concatenate', 'Flatten', 'Dense', 'Dense']);
    const byOp = (op: string, i = 0) => topology.layers.filter((l) => l.op === op)[i];
    assert.deepEqual(byOp('ZeroPadding2D').config.pads, [0, 0, 1, 1]);
    // 6x6 at stride 2 with a 3x3 kernel: one pixel of padding, at the bottom and right as TF puts it.
    assert.deepEqual(byOp('Conv2D', 2).config.pads, [0, 0, 1, 1]);
    assert.deepEqual(byOp('DepthwiseConv2D').config.pads, [1, 1, 1, 1]);
    assert.deepEqual(byOp('MaxPooling2D').config.pads, [0, 0, 1, 1]);
    assert.equal(byOp('Concatenate').config.axis, 3);
    assert.deepEqual(byOp('Add').inputs, [byOp('Activation').name, byOp('Conv2D', 1).name]);
    // Dropout is gone: the first Dense reads the Flatten directly.
    assert.deepEqual(byOp('Dense').inputs, [byOp('Flatten').name]);
    assert.equal(topology.output, byOp('Dense', 1).name);
  });

  it('writes each weight exactly as TF.js holds it, read back from weights.bin', () => {
    const model = loaded.model as tf.LayersModel;
    let count = 0;
    for (const layer of topology.layers) {
      const source = model.layers.find((l) => layer.name === l.name)!;
      assert.ok(source, `layer ${layer.name} is in the model`);
      for (const [key, w] of Object.entries(layer.weights)) {
        const original = source.weights.find((v) => v.name.includes(key))!.read();
        assert.deepEqual(w.shape, original.shape, `${layer.name}/${key} shape`);
        assert.deepEqual(readExportedWeight(exported, w), original.dataSync(), `${layer.name}/${key} values`);
        count += original.size;
      }
    }
    assert.equal(fs.statSync(path.join(exported, WEIGHTS_BIN)).size, count * 4, 'weights.bin holds these weights and nothing else');
    assert.equal(count, model.countParams());
  });

  it('writes the probe inputs and TF.js\'s outputs for them', () => {
    const { count, inputElements, outputUnits } = topology.probes;
    assert.deepEqual([count, inputElements, outputUnits], [4, 12 * 12 * 3, 3]);
    const bytes = fs.readFileSync(path.join(exported, PROBES_BIN));
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    assert.equal(values.length, count * (inputElements + outputUnits));
    const first = values.slice(0, inputElements);
    assert.ok(first.every((v) => v >= -1 && v <= 1) && Math.max(...first) - Math.min(...first) > 1, 'probe values span the model\'s range [-1, 1]');
    const want = tf.tidy(() => (loaded.model as tf.LayersModel).predict(tf.tensor(first, [1, 12, 12, 3])) as tf.Tensor).dataSync();
    assert.deepEqual(values.slice(count * inputElements, count * inputElements + outputUnits), want);
  });

  it('refuses a layer it cannot translate, naming it', async () => {
    const model = tf.sequential({ layers: [tf.layers.reshape({ targetShape: [4, 4, 1], inputShape: [16] }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
    const fake = { ...loaded, model, inputShape: [4, 4, 1] } as unknown as LoadedModel;
    assert.throws(() => exportReferenceModel(fake, path.join(dir, 'refused')), /layer reshape\w* \(Reshape\): the reference has no translation/);
    model.dispose();
  });

  describe('the PyTorch network built from the export (bench/reference)', () => {
    let unavailable: string | undefined;
    before(async function () {
      unavailable = await referenceUnavailable(LOOP);
    });
    beforeEach(function () {
      // CI installs scripts/setup.sh --test only, not --bench: say why these do not run.
      if (unavailable) {
        this.currentTest!.title += ` (skipped: ${unavailable})`;
        this.skip();
      }
    });

    it('gives TF.js\'s outputs within 1e-4 on the probes: the layered model, the default model and the Teachable Machine MobileNetV2', async function () {
      this.timeout(120_000);
      const layered = checkInPython(exported);
      assert.equal(layered.code, 0, layered.stderr);
      assert.ok((layered.result!.maxDifference as number) <= 1e-4, `layered model: ${JSON.stringify(layered.result)}`);
      for (const pkg of [defaultModelDir, teachableMachineFixture]) {
        const model = await loadModelPackage(pkg);
        try {
          const out = path.join(dir, path.basename(pkg));
          exportReferenceModel(model, out);
          const r = checkInPython(out);
          assert.equal(r.code, 0, r.stderr);
          assert.ok((r.result!.maxDifference as number) <= 1e-4, `${pkg}: ${JSON.stringify(r.result)}`);
        } finally {
          model.model?.dispose();
        }
      }
    });

    it('refuses to time a network whose outputs differ from TF.js\'s (a weight changed)', function () {
      this.timeout(60_000);
      const broken = path.join(dir, 'broken');
      fs.cpSync(exported, broken, { recursive: true });
      // The output layer's first bias: it moves every input's scores, whatever the activations before it.
      const bias = topology.layers.filter((l) => l.op === 'Dense')[1].weights.bias;
      const file = path.join(broken, WEIGHTS_BIN);
      const blob = fs.readFileSync(file);
      blob.writeFloatLE(blob.readFloatLE(bias.offset * 4) + 0.5, bias.offset * 4);
      fs.writeFileSync(file, blob);
      const r = checkInPython(broken);
      assert.equal(r.code, 3);
      assert.match(String(r.result?.error), /outputs differ from TF\.js by \S+ \(limit 0\.0001\)/);
    });

    it('preprocesses a clip frame to edgesight\'s input values (centre crop, area shrink, invert auto, contrast stretch)', async function () {
      this.timeout(60_000);
      const prepared = await prepareReference(defaultModelDir, path.join(dir, 'default-with-frame'), thirtyFpsClip().file);
      const r = checkInPython(prepared.exportDir, thirtyFpsClip().file, prepared.frameProbe);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((r.result!.preprocessDifference as number) <= 1e-6, JSON.stringify(r.result));
    });
  });
});
