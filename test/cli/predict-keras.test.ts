import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot, runCli, tempDir } from '../helpers/fixtures';

const FIXTURES = path.join(projectRoot, 'test', 'fixtures', 'keras-models');
const reference = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'reference-outputs.json'), 'utf8')) as Record<string, Record<string, number[]>>;

/** The model's whole output vector per input, by label, from `predict --json --top N`. */
function predictVectors(model: string, inputs: string[], units: number): Map<string, Map<string, number>> {
  const { code, stdout, stderr } = runCli(['predict', '--model', model, '--json', '--top', String(units), '--threshold', '0', ...inputs]);
  assert.equal(code, 0, stderr);
  const out = new Map<string, Map<string, number>>();
  for (const line of stdout.trim().split('\n')) {
    const p = JSON.parse(line) as { file: string; topk: Array<{ label: string; confidence: number }> };
    out.set(path.basename(p.file), new Map(p.topk.map((t) => [t.label, t.confidence])));
  }
  return out;
}

describe('predict --model KERAS_FILE (real files from other authors, outputs from their own configs and weights)', function () {
  this.timeout(240_000);

  for (const model of Object.keys(reference)) {
    it(`${model}: every output unit of every reference input matches reference-outputs.json to 1e-4, labels 0..N-1`, () => {
      const expected = reference[model];
      const inputs = Object.keys(expected).map((f) => path.join(FIXTURES, 'inputs', f));
      const units = expected[Object.keys(expected)[0]].length;
      const got = predictVectors(path.join(FIXTURES, model), inputs, Math.max(units, 2));
      assert.equal(got.size, inputs.length);
      for (const [input, vector] of Object.entries(expected)) {
        const scores = got.get(input)!;
        // One sigmoid unit: two labels, '1' carries the unit's value (predict rounds to 4 decimals).
        const byLabel = units === 1 ? [1 - vector[0], vector[0]] : vector;
        assert.deepEqual([...scores.keys()].sort(), byLabel.map((_, i) => String(i)).sort(), `${input}: labels`);
        byLabel.forEach((want, i) => {
          const have = scores.get(String(i))!;
          assert.ok(Math.abs(have - want) <= 1e-4, `${model} ${input} unit ${i}: ${have} vs reference ${want}`);
        });
      }
    });
  }

  it('labels come from labels.txt beside the file (plain lines), and a folder holding one Keras file is a model', () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(FIXTURES, 'cats_and_dogs_small_1.h5'), path.join(dir, 'model.hdf5'));
    fs.writeFileSync(path.join(dir, 'labels.txt'), 'cat\ndog\n');
    const { code, stdout, stderr } = runCli(['predict', '--model', dir, '--json', path.join(FIXTURES, 'inputs', 'rgb_0.png')]);
    assert.equal(code, 0, stderr);
    const line = JSON.parse(stdout) as { label: string; topk: Array<{ label: string }> };
    assert.equal(line.label, 'dog'); // reference 0.719 for unit 1
    assert.deepEqual(line.topk.map((t) => t.label).sort(), ['cat', 'dog']);
  });
});
