import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend';
import { loadModelPackage } from '../../src/model/model-package';
import { convertLayersModel } from '../../src/model/onnx/convert-layers';
import { transposeInput } from '../../src/model/onnx/transpose-input';
import { defaultModelDir, projectRoot, runCli, tempDir } from '../helpers/fixtures';

const FIXTURES = path.join(projectRoot, 'test', 'fixtures', 'keras-models');
const digits = fs.readdirSync(path.join(FIXTURES, 'inputs')).filter((f) => f.startsWith('digit_')).map((f) => path.join(FIXTURES, 'inputs', f));
const reference = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'reference-outputs.json'), 'utf8')) as Record<string, Record<string, number[]>>;

/** Writes a model converted to ONNX by edgesight's converter as FILE.onnx, as a user would bring one from PyTorch. */
async function writeOnnx(model: string, file: string, layout: 'nchw' | 'nhwc' = 'nchw'): Promise<void> {
  const loaded = await loadModelPackage(model);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let onnx = convertLayersModel(loaded.model as tf.LayersModel).onnx;
  // As tf2onnx writes a Keras model: the input NHWC, transposed to NCHW inside the graph.
  if (layout === 'nhwc') onnx = transposeInput(onnx, 'input', [0, 3, 1, 2], [-1, ...loaded.inputShape]);
  fs.writeFileSync(file, onnx);
  loaded.model!.dispose();
}

/** Confidence per label per image, from `predict --json` with every label shown. */
function predict(args: string[], inputs: string[], top: number): Map<string, Map<string, number>> {
  const { code, stdout, stderr } = runCli(['predict', '--json', '--top', String(top), '--threshold', '0', ...args, ...inputs]);
  assert.equal(code, 0, stderr);
  const out = new Map<string, Map<string, number>>();
  for (const line of stdout.trim().split('\n')) {
    const p = JSON.parse(line) as { file: string; topk: Array<{ label: string; confidence: number }> };
    out.set(p.file, new Map(p.topk.map((t) => [t.label, t.confidence])));
  }
  return out;
}

describe('predict --model FILE.onnx (a user\'s own ONNX file)', function () {
  this.timeout(240_000);
  const dir = tempDir('edgesight-onnx-');
  before(() => selectBackend('auto'));

  it('the default model as an ONNX file, with its metadata.json beside it, predicts what the package predicts on TF.js', async () => {
    const file = path.join(dir, 'digits', 'digits.onnx');
    await writeOnnx(defaultModelDir, file);
    fs.copyFileSync(path.join(defaultModelDir, 'metadata.json'), path.join(dir, 'digits', 'metadata.json'));
    const fromOnnx = predict(['--model', file], digits, 10);
    const fromPackage = predict(['--model', defaultModelDir, '--backend', 'wasm'], digits, 10);
    assert.equal(fromOnnx.size, digits.length);
    for (const [image, scores] of fromPackage) {
      const other = fromOnnx.get(image)!;
      assert.ok(other, image);
      assert.deepEqual([...other.keys()].sort(), [...scores.keys()].sort());
      // predict prints 4 decimals: equal outputs may round 1e-4 apart.
      for (const [label, confidence] of scores) assert.ok(Math.abs(other.get(label)! - confidence) <= 1.0001e-4, `${image} ${label}: ${other.get(label)} vs ${confidence}`);
    }
  });

  it('labels from labels.txt, preprocessing defaults said by info, the engine shown as opencv', async () => {
    const file = path.join(dir, 'cats', 'cats_and_dogs.onnx');
    await writeOnnx(path.join(FIXTURES, 'cats_and_dogs_small_1.h5'), file);
    fs.writeFileSync(path.join(dir, 'cats', 'labels.txt'), 'cat\ndog\n');
    const info = runCli(['info', file]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /format\s+onnx \(opset 10, NCHW input\)/);
    assert.match(info.stdout, /input\s+50x50x3/);
    assert.match(info.stdout, /labels\s+2: "cat", "dog"/);
    assert.match(info.stdout, /output\s+sigmoid/);
    assert.match(info.stdout, /engine\s+opencv \(ONNX file, default threads\)/);
    assert.match(info.stdout, /defaults\s+preprocessing defaults .*pixels scaled to \[0, 1\]/);
    // The reference outputs were computed outside edgesight from the Keras file (pixels / 255, RGB).
    const expected = reference['cats_and_dogs_small_1.h5'];
    const got = predict(['--model', file], Object.keys(expected).map((f) => path.join(FIXTURES, 'inputs', f)), 2);
    for (const [input, [p]] of Object.entries(expected)) {
      const dog = got.get(path.join(FIXTURES, 'inputs', input))!.get('dog')!;
      assert.ok(Math.abs(dog - p) <= 1.0001e-4, `${input}: ${dog} vs ${p}`);
    }
  });

  it('an ONNX file with an NHWC input (as tf2onnx writes): the Teachable Machine MobileNetV2 classifies its 22 samples as TF.js does', async () => {
    const tm = path.join(projectRoot, 'test', 'fixtures', 'teachable-machine-2019');
    const file = path.join(dir, 'tm', 'tm-nhwc.onnx');
    await writeOnnx(tm, file, 'nhwc');
    fs.copyFileSync(path.join(tm, 'metadata.json'), path.join(dir, 'tm', 'metadata.json'));
    const info = runCli(['info', file]);
    assert.match(info.stdout, /format\s+onnx \(opset 10, NHWC input\)/);
    assert.match(info.stdout, /input\s+224x224x3/);
    const samples = path.join(tm, 'samples');
    const images = fs.readdirSync(samples).flatMap((label) => fs.readdirSync(path.join(samples, label)).map((f) => path.join(samples, label, f)));
    const fromOnnx = predict(['--model', file], images, 2);
    const fromPackage = predict(['--model', tm, '--backend', 'wasm'], images, 2);
    assert.equal(fromOnnx.size, 22);
    for (const image of images) {
      const got = fromOnnx.get(image)!;
      const best = [...got.entries()].sort((a, b) => b[1] - a[1])[0][0];
      assert.equal(best, path.basename(path.dirname(image)), image);
      for (const [label, confidence] of fromPackage.get(image)!) assert.ok(Math.abs(got.get(label)! - confidence) <= 1.0001e-4, `${image} ${label}`);
    }
  });

  it('a file that is not ONNX is refused with the file named', () => {
    const file = path.join(dir, 'broken.onnx');
    fs.writeFileSync(file, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]));
    const result = runCli(['predict', '--model', file, digits[0]]);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr.trim(), new RegExp(`^edgesight: model package: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is not an ONNX model`));
  });
});
