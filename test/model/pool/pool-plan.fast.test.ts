import { strict as assert } from 'node:assert';
import { FAST_MODEL_MS, planWorkers, workerBytesFor, workerCores } from '../../../src/model/pool/pool-plan';

const GB = 1024 ** 3;

describe('planWorkers (how many inference workers a model gets)', () => {
  it('auto: one per core left after capture and the server, for a model slow enough and memory enough', () => {
    assert.equal(workerCores(4), 3);
    assert.equal(workerCores(1), 1);
    const plan = planWorkers('auto', 'tfjs', 'wasm', 17, 3, 13e6, 2 * GB);
    assert.equal(plan.workers, 3);
    assert.match(plan.why, /one per core left after capture and the server \(17\.0 ms per inference\)/);
  });

  it('auto: 1 for a model faster than the hand-off, on one spare core, on OpenCV DNN or tfjs-node, or when the copies would not fit', () => {
    assert.deepEqual([planWorkers('auto', 'tfjs', 'wasm', FAST_MODEL_MS - 0.1, 3, 1e5, 2 * GB).workers, planWorkers('auto', 'tfjs', 'wasm', FAST_MODEL_MS, 3, 1e5, 2 * GB).workers], [1, 3]);
    assert.match(planWorkers('auto', 'tfjs', 'wasm', 0.3, 3, 1e5, 2 * GB).why, /0\.30 ms per inference, under 4 ms/);
    assert.equal(planWorkers('auto', 'tfjs', 'wasm', 50, 1, 1e5, 2 * GB).workers, 1);
    assert.match(planWorkers('auto', 'opencv', 'wasm', 50, 3).why, /OpenCV DNN uses every core/);
    assert.equal(planWorkers('auto', 'opencv', 'wasm', 50, 3).workers, 1);
    assert.equal(planWorkers('auto', 'tfjs', 'tensorflow', 50, 3).workers, 1);
    // Three copies of a 170 MB model (~560 MB each) in 2 GB available: more than half of it.
    const big = planWorkers('auto', 'tfjs', 'wasm', 30, 3, 170e6, 2 * GB);
    assert.equal(big.workers, 1);
    assert.match(big.why, /3 workers would take ~\d+ MB .* more than half of the 2048 MB available/);
    assert.ok(workerBytesFor(170e6) > 500e6);
  });

  it('a number is taken as asked, except on OpenCV DNN, which no worker thread can load', () => {
    assert.deepEqual(planWorkers(2, 'tfjs', 'wasm', 0.3, 1, 170e6, 0.1 * GB), { workers: 2, why: 'pipeline.workers 2' });
    assert.equal(planWorkers(4, 'opencv', 'wasm', 10).workers, 1);
  });
  it('more than one worker, asked for or auto, only when their copies fit in the room left under the memory limit', () => {
    const need = 2 * workerBytesFor(10e6);
    assert.equal(planWorkers(2, 'tfjs', 'wasm', 30, 2, 10e6, 10 * GB, need).workers, 2);
    const tight = planWorkers(2, 'tfjs', 'wasm', 30, 2, 10e6, 10 * GB, need - 1);
    assert.equal(tight.workers, 1);
    assert.match(tight.why, /^2 workers would take ~\d+ MB \(each its own copy of the model\), more than the \d+ MB left under the memory limit$/);
    assert.equal(planWorkers('auto', 'tfjs', 'wasm', 30, 2, 10e6, 10 * GB, need - 1).workers, 1);
    assert.equal(planWorkers('auto', 'tfjs', 'wasm', 30, 2, 10e6, 10 * GB, undefined).workers, 2, 'no limit: no room rule');
  });
});
