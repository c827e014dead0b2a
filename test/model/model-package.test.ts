import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { isImageFile } from '../../src/capture/images-source';
import { selectBackend } from '../../src/model/backend';
import { Classifier } from '../../src/model/classifier';
import { loadModelPackage } from '../../src/model/model-package';
import { directorySaveHandler } from '../../src/model/package-io';
import { ModelPackageError } from '../../src/util/errors';
import { cv } from '../../src/vision/cv';
import { teachableMachineFixture, tempDir, writeTinyPackage } from '../helpers/fixtures';

async function expectRefusal(dir: string, file: RegExp, problem: RegExp): Promise<void> {
  await assert.rejects(loadModelPackage(dir), (err: unknown) => {
    assert.ok(err instanceof ModelPackageError, `expected ModelPackageError, got ${err}`);
    assert.match(err.file, file);
    assert.match(err.message, problem);
    return true;
  });
}

describe('model packages', () => {
  before(async () => {
    await selectBackend('auto');
  });

  it('loads a valid package with its labels and input', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir);
    const loaded = await loadModelPackage(dir);
    assert.deepEqual(loaded.inputShape, [8, 8, 1]);
    assert.deepEqual(loaded.metadata.labels, ['class 0', 'class 1', 'class 2']);
    assert.equal(loaded.metadata.preprocess.resizeMode, 'stretch');
    loaded.model!.dispose();
  });

  it('refuses a missing model.json', async () => {
    const dir = tempDir();
    await expectRefusal(dir, /model\.json$/, /is missing/);
  });

  it('refuses a corrupt model.json', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir);
    fs.writeFileSync(path.join(dir, 'model.json'), '{"modelTopology": {');
    await expectRefusal(dir, /model\.json$/, /not valid JSON/);
  });

  it('refuses a missing weight shard', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir);
    fs.unlinkSync(path.join(dir, 'weights.bin'));
    await expectRefusal(dir, /weights\.bin$/, /weight shard is missing/);
  });

  it('refuses weights of the wrong byte length', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir);
    const file = path.join(dir, 'weights.bin');
    fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 100));
    await expectRefusal(dir, /weights\.bin$/, /weights have 100 bytes but model\.json declares 780/);
  });

  it('loads weights split over several shards exactly as from one file', async () => {
    const whole = tempDir();
    await writeTinyPackage(whole);
    const split = tempDir();
    fs.cpSync(whole, split, { recursive: true });
    // 780 bytes cut at 3 and 500: shard edges need not fall on a weight or a float.
    const bytes = fs.readFileSync(path.join(split, 'weights.bin'));
    const cuts = [0, 3, 500, bytes.length];
    const paths = cuts.slice(1).map((end, i) => {
      fs.writeFileSync(path.join(split, `part-${i}.bin`), bytes.subarray(cuts[i], end));
      return `part-${i}.bin`;
    });
    fs.unlinkSync(path.join(split, 'weights.bin'));
    const modelJson = JSON.parse(fs.readFileSync(path.join(split, 'model.json'), 'utf8'));
    modelJson.weightsManifest[0].paths = paths;
    fs.writeFileSync(path.join(split, 'model.json'), JSON.stringify(modelJson));

    const [a, b] = [await loadModelPackage(whole), await loadModelPackage(split)];
    assert.equal(b.weightBytes, 780);
    const [wa, wb] = [(a.model as tf.LayersModel).getWeights(), (b.model as tf.LayersModel).getWeights()];
    assert.equal(wb.length, wa.length);
    wa.forEach((w, i) => assert.deepEqual(Array.from(wb[i].dataSync()), Array.from(w.dataSync()), `weight ${i}`));
    a.model!.dispose();
    b.model!.dispose();

    fs.writeFileSync(path.join(split, 'part-1.bin'), bytes.subarray(3, 400));
    await expectRefusal(split, /part-0\.bin\+part-1\.bin\+part-2\.bin$/, /weights have 680 bytes but model\.json declares 780/);
  });

  it('refuses labels that do not match the output units', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir, { labels: ['a', 'b'] });
    await expectRefusal(dir, /metadata\.json$/, /has 2 labels but the model has 3 output units/);
  });

  it('refuses a missing metadata.json', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir);
    fs.unlinkSync(path.join(dir, 'metadata.json'));
    await expectRefusal(dir, /metadata\.json$/, /is missing/);
  });

  it('refuses an input that is not an image (rank 2)', async () => {
    const dir = tempDir();
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [10], units: 2, activation: 'softmax' }));
    await model.save(directorySaveHandler(dir));
    fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ labels: ['a', 'b'] }));
    await expectRefusal(dir, /model\.json$/, /input must have rank 4.*rank 2/);
  });

  it('refuses an unsupported channel count', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir, { inputShape: [8, 8, 2] });
    await expectRefusal(dir, /model\.json$/, /input has 2 channels; only 1 \(grayscale\) or 3 \(colour\)/);
  });

  it('refuses a bad preprocessing field, naming it', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir, { metadata: { preprocess: { resizeMode: 'squash' } } });
    await expectRefusal(dir, /metadata\.json$/, /preprocess\.resizeMode' must be one of stretch, center-crop, got "squash"/);
  });

  it('treats one sigmoid unit as two labels', async () => {
    const dir = tempDir();
    await writeTinyPackage(dir, { units: 1, labels: ['no', 'yes'] });
    const classifier = new Classifier(await loadModelPackage(dir));
    const { scores } = classifier.classify(new cv.Mat(8, 8, cv.CV_8UC1, 128));
    assert.equal(scores.length, 2);
    assert.ok(Math.abs(scores[0] + scores[1] - 1) < 1e-5);
    classifier.dispose();
  });

  for (const [units, labels] of [[1, ['no', 'yes']], [3, ['a', 'b', 'c']]] as const) {
    it(`classifies a batch as it classifies each image alone (${units} output unit(s))`, async () => {
      const dir = tempDir();
      await writeTinyPackage(dir, { units, labels: [...labels] });
      const classifier = new Classifier(await loadModelPackage(dir));
      const images = [0, 60, 128, 200, 255].map((v) => new cv.Mat(8, 8, cv.CV_8UC1, v));
      const alone = images.map((m) => Array.from(classifier.classify(m).scores));
      const tensors = tf.memory().numTensors;
      for (const count of [5, 2, 3]) {
        const smalls = images.map((m) => classifier.preprocessor.shrink(m));
        const batch = classifier.classifyBatch(smalls, count);
        assert.equal(batch.count, count);
        for (let i = 0; i < count; i++) {
          assert.equal(batch.scores[i].length, labels.length);
          for (let k = 0; k < labels.length; k++) assert.ok(Math.abs(batch.scores[i][k] - alone[i][k]) < 1e-5, `image ${i} label ${k} in a batch of ${count}`);
        }
        smalls.forEach((m) => m.release());
      }
      assert.equal(tf.memory().numTensors, tensors);
      // The images differ, so a batch that gave every position the same scores would fail above.
      assert.notDeepEqual(alone[0], alone[4]);
      classifier.dispose();
    });
  }

  describe('a Teachable Machine export', () => {
    it('loads with its conventions and classifies all 22 samples correctly', async function () {
      this.timeout(120_000);
      const loaded = await loadModelPackage(teachableMachineFixture);
      assert.equal(loaded.metadata.conventions, 'teachable-machine');
      assert.deepEqual(loaded.metadata.preprocess.range, [-1, 1]);
      assert.equal(loaded.metadata.preprocess.resizeMode, 'center-crop');
      assert.deepEqual([loaded.metadata.preprocess.width, loaded.metadata.preprocess.height, loaded.metadata.preprocess.channels], [224, 224, 3]);
      const classifier = new Classifier(loaded);
      let correct = 0;
      let total = 0;
      for (const label of loaded.metadata.labels) {
        const dir = path.join(teachableMachineFixture, 'samples', label);
        for (const file of fs.readdirSync(dir).filter(isImageFile)) {
          const { scores } = classifier.classify(cv.imread(path.join(dir, file)));
          const best = scores.indexOf(Math.max(...scores));
          total++;
          if (loaded.metadata.labels[best] === label) correct++;
        }
      }
      classifier.dispose();
      assert.equal(total, 22);
      assert.equal(correct, 22);
    });
  });
});
