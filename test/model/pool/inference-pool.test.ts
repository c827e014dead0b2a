import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/model/backend';
import { Classifier } from '../../../src/model/classifier';
import { probeInputs } from '../../../src/model/engine/probe-check';
import { selectEngine } from '../../../src/model/engine/select-engine';
import { loadModelPackage, type LoadedModel } from '../../../src/model/model-package';
import { openPackage } from '../../../src/model/open-model';
import { directorySaveHandler } from '../../../src/model/package-io';
import { InferencePool } from '../../../src/model/pool/inference-pool';
import { PoolEngine } from '../../../src/model/pool/pool-engine';
import { workerBytesFor } from '../../../src/model/pool/pool-plan';
import { serveOnPool } from '../../../src/model/pool/serve-on-pool';
import { ModelPackageError } from '../../../src/util/errors';
import { silentLogger } from '../../../src/util/logger';
import { defaultModelDir, teachableMachineFixture, tempDir } from '../../helpers/fixtures';

const engineOptions = { preference: 'wasm' as const, threads: 0 };

/** A model on a pool of `size` workers (pipeline.workers = size), and the in-process scores to compare with. */
async function onPool(pool: InferencePool, dir: string): Promise<{ loaded: LoadedModel; engine: PoolEngine }> {
  const loaded = await loadModelPackage(dir);
  const served = await serveOnPool(loaded, await selectEngine(loaded, engineOptions), { pool, setting: pool.size, onFailure: 'refuse' });
  assert.ok(served.engine instanceof PoolEngine, served.summary);
  return { loaded, engine: served.engine };
}

function inputsFor(loaded: LoadedModel, count: number): Float32Array[] {
  const [h, w, c] = loaded.inputShape;
  return probeInputs(h * w * c, loaded.metadata.preprocess.range, count).map((p) => {
    const shared = new Float32Array(new SharedArrayBuffer(p.byteLength));
    shared.set(p);
    return shared;
  });
}

function closeTo(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${what}: output ${i} is ${a[i]}, in-process ${b[i]}`);
}

/** A layer class known to this process only: a worker cannot build a model that uses it. */
class MainThreadOnlyScale extends tf.layers.Layer {
  static className = 'EdgesightTestMainThreadOnlyScale';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
  }
}
tf.serialization.registerClass(MainThreadOnlyScale);

describe('InferencePool (real worker threads, TF.js WASM in each)', function () {
  this.timeout(120_000);
  const pools: InferencePool[] = [];
  const newPool = (size: number, maxCrashes?: number) => {
    const pool = new InferencePool(size, silentLogger(), { maxCrashes });
    pools.push(pool);
    return pool;
  };

  before(async () => {
    await selectBackend('wasm');
  });
  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.stop();
  });

  it('runs the default model and the Teachable Machine MobileNet in two workers at once, with the scores of this process', async () => {
    const pool = newPool(2);
    for (const dir of [defaultModelDir, teachableMachineFixture]) {
      const { loaded, engine } = await onPool(pool, dir);
      try {
        const inputs = inputsFor(loaded, 4);
        const want = inputs.map((x) => engine.run(x, 1).slice());
        assert.equal(engine.concurrency, 2);
        const got = await Promise.all(inputs.map((x) => engine.runAsync(x, 1)));
        got.forEach((g, i) => closeTo(g, want[i], `${path.basename(dir)} input ${i}`));
        // Both workers hold the model, and both did some of the work.
        const status = pool.status();
        assert.deepEqual(status.workers.map((w) => w.models), [[engine.model], [engine.model]]);
      } finally {
        engine.dispose();
        loaded.model?.dispose();
      }
    }
  });

  it('serves a Keras .h5 file (converted on load) from the workers', async () => {
    const pool = newPool(2);
    const { loaded, engine } = await onPool(pool, path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'keras-models', 'himalrana_mnist_cnn.h5'));
    try {
      const [x] = inputsFor(loaded, 1);
      closeTo(await engine.runAsync(x, 1), engine.run(x, 1).slice(), 'keras');
    } finally {
      engine.dispose();
      loaded.model?.dispose();
    }
  });

  it('refuses a candidate a worker cannot build, leaving the model in service on every worker', async () => {
    const pool = newPool(2);
    const serving = await onPool(pool, defaultModelDir);
    // A package whose model uses a layer class registered in this process only.
    const dir = tempDir('edgesight-pool-refused-');
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), new MainThreadOnlyScale({}), tf.layers.dense({ units: 10, activation: 'softmax' })] });
    await model.save(directorySaveHandler(dir));
    model.dispose();
    fs.copyFileSync(path.join(defaultModelDir, 'metadata.json'), path.join(dir, 'metadata.json'));
    await assert.rejects(
      openPackage(dir, engineOptions, silentLogger(), { pool, setting: 2, onFailure: 'refuse' }),
      (err: unknown) => err instanceof ModelPackageError && /inference workers cannot serve it: inference worker 0 could not load it: .*EdgesightTestMainThreadOnlyScale/.test(err.message),
    );
    // Nothing switched: both workers hold the serving model only, and serve it.
    await new Promise((r) => setTimeout(r, 100));
    const status = pool.status();
    assert.deepEqual(status.workers.map((w) => [w.state, w.models]), [['ready', [serving.engine.model]], ['ready', [serving.engine.model]]]);
    const [x] = inputsFor(serving.loaded, 1);
    closeTo(await serving.engine.runAsync(x, 1), serving.engine.run(x, 1).slice(), 'after the refusal');
    const memory = await pool.memory();
    assert.deepEqual(memory.map((w) => w.memory?.models), [1, 1], 'the refused model was left in a worker');
    serving.engine.dispose();
    serving.loaded.model?.dispose();
  });

  it("keeps a TF.js model on the main thread when the workers' copies would not fit under the memory limit, saying so; with room it goes to the workers", async () => {
    const pool = newPool(2);
    const loaded = await loadModelPackage(teachableMachineFixture);
    try {
      const need = 2 * workerBytesFor(loaded.weightBytes);
      const tight = await serveOnPool(loaded, await selectEngine(loaded, engineOptions), { pool, setting: 2, onFailure: 'refuse', memoryRoom: () => need - 1 });
      assert.equal(tight.plan.workers, 1);
      assert.equal(tight.engine.name, 'tfjs');
      assert.ok(!(tight.engine instanceof PoolEngine), 'the model went to the workers');
      assert.match(tight.summary, /1 worker: 2 workers would take ~\d+ MB \(each its own copy of the model\), more than the \d+ MB left under the memory limit$/);
      assert.deepEqual(pool.status().workers.map((w) => w.models.length).filter((n) => n > 0), [], 'a worker loaded the model');
      const roomy = await serveOnPool(loaded, await selectEngine(loaded, engineOptions), { pool, setting: 2, onFailure: 'refuse', memoryRoom: () => need });
      assert.ok(roomy.engine instanceof PoolEngine, roomy.summary);
      assert.equal(roomy.plan.workers, 2);
      roomy.engine.dispose();
    } finally {
      loaded.model?.dispose();
    }
  });

  it('loads a new model in every worker before it can be used, and drops the old one only after its last run', async () => {
    const pool = newPool(2);
    const old = await onPool(pool, defaultModelDir);
    const [x] = inputsFor(old.loaded, 1);
    // A run on the old model in flight while the new one is registered and the old released.
    const inFlight = old.engine.runAsync(x, 1);
    const next = await onPool(pool, teachableMachineFixture);
    assert.deepEqual(pool.status().workers.map((w) => w.models.sort()), [[old.engine.model, next.engine.model], [old.engine.model, next.engine.model]]);
    old.engine.dispose();
    closeTo(await inFlight, old.engine.run(x, 1).slice(), 'the old model run in flight at the swap');
    old.loaded.model?.dispose();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pool.status().workers.map((w) => w.models), [[next.engine.model], [next.engine.model]]);
    const memory = await pool.memory();
    assert.deepEqual(memory.map((w) => w.memory?.models), [1, 1]);
    next.engine.dispose();
    next.loaded.model?.dispose();
  });

  it('reports a crashed worker, fails only the run it had, and starts it again with the model', async () => {
    const pool = newPool(2);
    const { loaded, engine } = await onPool(pool, teachableMachineFixture);
    try {
      const inputs = inputsFor(loaded, 2);
      const want = inputs.map((x) => engine.run(x, 1).slice());
      const runs = inputs.map((x) => engine.runAsync(x, 1).then((out) => ({ out }), (err: Error) => ({ err })));
      const victim = pool.threads()[0];
      await victim.terminate();
      const outcomes = await Promise.all(runs);
      const failed = outcomes.filter((o) => 'err' in o);
      assert.equal(failed.length, 1, 'exactly the run of the crashed worker fails');
      assert.match((failed[0] as { err: Error }).err.message, /inference worker 0 crashed/);
      assert.equal(pool.status().crashes, 1);
      // It comes back holding the model, and both serve again.
      const started = Date.now();
      while (pool.capacity(engine.model) < 2) {
        assert.ok(Date.now() - started < 30_000, 'the crashed worker was not started again');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.notEqual(pool.threads()[0], victim);
      const again = await Promise.all(inputs.map((x) => engine.runAsync(x, 1)));
      again.forEach((g, i) => closeTo(g, want[i], `after the restart, input ${i}`));
      assert.equal(pool.status().respawns, 1);
    } finally {
      engine.dispose();
      loaded.model?.dispose();
    }
  });

  it('classifies on the main thread when no worker is left', async () => {
    const pool = newPool(2, 0);
    const { loaded, engine } = await onPool(pool, defaultModelDir);
    const classifier = new Classifier(loaded, engine, 'test');
    try {
      for (const thread of pool.threads()) await thread.terminate();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(pool.status().ready, 0);
      const [x] = inputsFor(loaded, 1);
      closeTo(await engine.runAsync(x, 1), engine.run(x, 1).slice(), 'in-process fallback');
      assert.equal(classifier.concurrency, 1);
    } finally {
      classifier.dispose();
    }
  });

  it('ends every worker thread on stop, and workers start only for a model and end without one', async () => {
    const pool = newPool(3);
    assert.equal(pool.threads().length, 0, 'workers started before any model');
    const { loaded, engine } = await onPool(pool, defaultModelDir);
    const threads = pool.threads();
    assert.equal(threads.length, 3);
    const exited = threads.map((t) => new Promise<void>((resolve) => t.once('exit', () => resolve())));
    await pool.stop();
    await Promise.all(exited);
    assert.deepEqual(threads.map((t) => t.threadId), [-1, -1, -1]);
    assert.equal(pool.threads().length, 0);
    // A run asked of a stopped pool is done in this process rather than start a worker again.
    const [x] = inputsFor(loaded, 1);
    closeTo(await engine.runAsync(x, 1), engine.run(x, 1).slice(), 'after stop');
    assert.equal(pool.threads().length, 0);
    loaded.model?.dispose();

    // Released models end the workers by themselves.
    const idle = newPool(2);
    const second = await onPool(idle, defaultModelDir);
    const secondThreads = idle.threads();
    const secondExited = secondThreads.map((t) => new Promise<void>((resolve) => t.once('exit', () => resolve())));
    second.engine.dispose();
    await Promise.all(secondExited);
    assert.equal(idle.threads().length, 0);
    second.loaded.model?.dispose();
  });
});
