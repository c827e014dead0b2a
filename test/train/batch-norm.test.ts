import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { compactCnn } from '../../src/train/architectures';
import { fuseBatchNorm } from '../../src/train/batch-norm';
import { seededRandom } from '../../src/util/random';
import { onWasmTrainingBackend } from '../helpers/wasm-training';

function values(shape: number[], seed: number, offset = 0, scale = 1): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + scale * (random() * 2 - 1));
}

/** max |a - b| / max |b|: float32 sums in another order differ in the last bits. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  assert.equal(actual.length, expected.length);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  }
  assert.ok(maxAbs > 0, 'the reference is all zeros: the check would prove nothing');
  return maxDiff / maxAbs;
}

const reported: string[] = [];

function check(name: string, actual: Float32Array, expected: Float32Array, tolerance: number): void {
  const error = relativeError(actual, expected);
  reported.push(`${name}: relative error ${error.toExponential(2)}`);
  assert.ok(error < tolerance, `${name}: relative error ${error} (tolerance ${tolerance})`);
}

interface Outcome {
  y: Float32Array;
  grads: Float32Array[];
  moving: Float32Array[];
}

/**
 * One training-mode call of a BatchNormalization layer (gamma and beta set from seeds), the
 * gradients of sum(y * w) for a fixed random w with respect to x, gamma and beta, and the
 * moving statistics after the call; on the cpu backend with the layer's own code, on WASM fused.
 */
async function batchNormOn(backend: 'cpu' | 'wasm', shape: number[], offset: number): Promise<Outcome> {
  await tf.setBackend(backend);
  const channels = shape[shape.length - 1];
  const layer = tf.layers.batchNormalization({ momentum: 0.9, inputShape: shape.slice(1) });
  const model = tf.sequential({ layers: [layer] });
  model.setWeights([tf.tensor1d(values([channels], 3, 1, 0.5)), tf.tensor1d(values([channels], 4)), tf.zeros([channels]), tf.ones([channels])]);
  if (backend === 'wasm') assert.equal(fuseBatchNorm(model), 1);
  const x = tf.variable(tf.tensor(values(shape, 1, offset, 2), shape));
  const w = tf.tensor(values(shape, 2), shape);
  const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
  let y: Float32Array | undefined;
  const { grads, value } = tf.variableGrads(() => {
    const out = layer.apply(x, { training: true }) as tf.Tensor;
    y = out.dataSync() as Float32Array;
    return tf.sum(tf.mul(out, w)) as tf.Scalar;
  }, [x, gamma, beta]);
  const outcome = {
    y: y!,
    grads: [x, gamma, beta].map((v) => grads[v.name].dataSync() as Float32Array),
    moving: layer.getWeights().slice(2).map((t) => t.dataSync() as Float32Array),
  };
  tf.dispose([x, w, value, ...Object.values(grads)]);
  model.dispose();
  return outcome;
}

describe('fused batch normalisation (WASM training path)', () => {
  onWasmTrainingBackend(reported);

  for (const c of [
    { name: 'NHWC, 16 channels', shape: [4, 9, 9, 16], offset: 0 },
    { name: 'NHWC, 3 channels, odd size', shape: [3, 7, 5, 3], offset: 0 },
    { name: 'mean far from 0 (variance by sums of squares)', shape: [2, 8, 8, 8], offset: 20 },
    { name: 'rank 2 (after a dense layer)', shape: [16, 6], offset: 0 },
  ]) {
    it(`matches the layer's own code on the cpu backend: ${c.name}`, async () => {
      const expected = await batchNormOn('cpu', c.shape, c.offset);
      const actual = await batchNormOn('wasm', c.shape, c.offset);
      check(`${c.name}: y`, actual.y, expected.y, 1e-5);
      ['dx', 'dgamma', 'dbeta'].forEach((g, i) => check(`${c.name}: ${g}`, actual.grads[i], expected.grads[i], 1e-4));
      ['moving mean', 'moving variance'].forEach((m, i) => check(`${c.name}: ${m}`, actual.moving[i], expected.moving[i], 1e-5));
    });
  }

  it('leaves inference (training: false) to the layer and no tensor behind', async () => {
    await tf.setBackend('wasm');
    const model = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [4, 4, 2] })] });
    fuseBatchNorm(model);
    const x = tf.tensor4d(values([2, 4, 4, 2], 5), [2, 4, 4, 2]);
    const before = tf.memory().numTensors;
    const plain = model.predict(x) as tf.Tensor;
    // Moving statistics 0 and 1, gamma 1, beta 0: inference divides by sqrt(1 + epsilon) only.
    const expected = (x.dataSync() as Float32Array).map((v) => v / Math.sqrt(1 + 1e-3));
    check('inference path', plain.dataSync() as Float32Array, expected, 1e-6);
    plain.dispose();
    const trained = tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor);
    trained.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    x.dispose();
    model.dispose();
  });

  it('leaves alone a layer whose call was already replaced (a frozen base kept in inference mode)', () => {
    const model = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [2, 2, 2] }), tf.layers.batchNormalization({})] });
    const frozen = model.layers[0] as unknown as { call: (i: tf.Tensor, k: object) => tf.Tensor };
    const own = frozen.call.bind(frozen);
    frozen.call = (inputs, kwargs) => own(inputs, { ...kwargs, training: false });
    assert.equal(fuseBatchNorm(model), 1, 'only the second layer');
    assert.equal(fuseBatchNorm(model), 0, 'once only');
    model.dispose();
  });

  for (const stemStride of [1, 2] as const) {
    it(`gives the compact network${stemStride === 2 ? ' with a stride-2 stem (compact-s2)' : ''} the same loss and weight gradients as the cpu backend`, async () => {
      const gradientsOn = async (backend: 'cpu' | 'wasm') => {
        await tf.setBackend(backend);
        const model = compactCnn({ height: 16, width: 16, channels: 3, classes: 3, seed: 9, dropout: 0, stemStride });
        if (backend === 'wasm') assert.equal(fuseBatchNorm(model), 6);
        const x = tf.tensor4d(values([4, 16, 16, 3], 6, 0.5, 0.5), [4, 16, 16, 3]);
        const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3).toFloat();
        const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, weights);
        const out = { loss: value.dataSync()[0], grads: weights.map((w) => grads[w.name].dataSync() as Float32Array) };
        tf.dispose([x, y, value, ...Object.values(grads)]);
        model.dispose();
        return out;
      };
      const expected = await gradientsOn('cpu');
      const actual = await gradientsOn('wasm');
      assert.ok(Math.abs(actual.loss - expected.loss) < 1e-5 * Math.abs(expected.loss), `loss ${actual.loss} against ${expected.loss}`);
      expected.grads.forEach((g, i) => check(`compact${stemStride === 2 ? '-s2' : ''} weight ${i} gradient`, actual.grads[i], g, 1e-3));
    });
  }
});
