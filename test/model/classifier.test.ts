import { strict as assert } from 'node:assert';
import { toProbabilities } from '../../src/model/classifier';

describe('toProbabilities', () => {
  it('passes softmax outputs through', () => {
    const out = new Float32Array(3);
    toProbabilities([0.2, 0.5, 0.3], 'softmax', out);
    assert.deepEqual(Array.from(out).map((v) => +v.toFixed(6)), [0.2, 0.5, 0.3]);
  });

  it('turns one sigmoid unit into two label probabilities', () => {
    const out = new Float32Array(2);
    toProbabilities([0.8], 'sigmoid', out);
    assert.ok(Math.abs(out[0] - 0.2) < 1e-6 && Math.abs(out[1] - 0.8) < 1e-6);
  });

  it('applies a softmax to logits', () => {
    const out = new Float32Array(2);
    toProbabilities([0, Math.log(3)], 'none', out);
    assert.ok(Math.abs(out[0] - 0.25) < 1e-6 && Math.abs(out[1] - 0.75) < 1e-6);
  });

  it("reads one image's outputs out of a batch", () => {
    const out = new Float32Array(2);
    toProbabilities([0.1, 0.9, 0.6, 0.4], 'softmax', out, 2, 2);
    assert.deepEqual(Array.from(out).map((v) => +v.toFixed(6)), [0.6, 0.4]);
    toProbabilities([0, 0, Math.log(3), 0], 'none', out, 1, 2);
    assert.ok(Math.abs(out[0] - 0.25) < 1e-6 && Math.abs(out[1] - 0.75) < 1e-6);
    toProbabilities([0.8, 0.3], 'sigmoid', out, 1, 1);
    assert.ok(Math.abs(out[0] - 0.7) < 1e-6 && Math.abs(out[1] - 0.3) < 1e-6);
  });
});
