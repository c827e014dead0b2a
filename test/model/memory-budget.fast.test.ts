import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryBudget, SWAP_COST, HEADROOM_BYTES } from '../../src/model/memory-budget';
import { planWorkers, workerBytesFor } from '../../src/model/pool/pool-plan';
import { ModelPackageError } from '../../src/util/errors';
import type { MemoryLimit } from '../../src/util/memory-limit';

const MB = 1048576;
const serviceLimit = (mb: number): MemoryLimit => ({ bytes: mb * MB, file: '/sys/fs/cgroup/system.slice/edgesight.service/memory.max', version: 'cgroup v2' });

/**
 * A consistent TF.js layers package (as tf.Sequential.save writes it: Flatten of a 1024x1024x1
 * input, then one Dense layer of `units`: 4 MB of weights per unit) with a sparse weights file,
 * so that its size is on disk without writing it, and without loading TF.js here.
 */
function bigPackage(units: number): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'edgesight-big-')), 'big');
  fs.mkdirSync(dir);
  const layers = [
    { class_name: 'Flatten', config: { name: 'flatten_Flatten1', trainable: true, batch_input_shape: [null, 1024, 1024, 1], dtype: 'float32' } },
    { class_name: 'Dense', config: { units, activation: 'softmax', use_bias: true, name: 'dense_Dense1', trainable: true } },
  ];
  const weights = [
    { name: 'dense_Dense1/kernel', shape: [1048576, units], dtype: 'float32' },
    { name: 'dense_Dense1/bias', shape: [units], dtype: 'float32' },
  ];
  const model = { modelTopology: { class_name: 'Sequential', config: { name: 'big', layers }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' }, format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights }] };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(model));
  fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ name: 'big', labels: Array.from({ length: units }, (_, i) => `class ${i}`) }));
  fs.writeFileSync(path.join(dir, 'weights.bin'), '');
  fs.truncateSync(path.join(dir, 'weights.bin'), (1048576 * units + units) * 4);
  return dir;
}

describe('MemoryBudget: a model whose load would pass the memory limit is refused with the numbers', () => {
  // 162 MiB of weights: the course's 150x150 cats/dogs CNN (seedCnn, 42.5 M weights).
  const courseCnn = 42_488_386 * 4;

  it('refuses the 150x150 CNN hot-swap under MemoryMax=768M with the default engine choice, naming the file, the numbers and the remedies', () => {
    const budget = new MemoryBudget('auto', { limit: () => serviceLimit(768), rss: () => 190 * MB, underSystemd: true });
    assert.throws(
      () => budget.checkSwap('/var/lib/edgesight/incoming/x', courseCnn),
      (err: unknown) => {
        assert.ok(err instanceof ModelPackageError);
        assert.equal(err.file, '/var/lib/edgesight/incoming/x/model.json');
        assert.match(
          err.problem,
          /^weights of 162 MB need about 1670 MB at the swap's peak beside the running model \(now 190 MB\), over the service's memory limit \(MemoryMax, \/sys\/fs\/cgroup\/system\.slice\/edgesight\.service\/memory\.max\) of 768 MB less 64 MB of headroom; raise it with `sudo systemctl edit edgesight` \(\[Service\] MemoryMax=1792M\) and restart$/,
        );
        return true;
      },
    );
  });

  it('names model.backend=wasm when that would fit, and a restart with model.path when the start would', () => {
    const budget = new MemoryBudget('auto', { limit: () => serviceLimit(1024), rss: () => 190 * MB, underSystemd: true });
    assert.throws(() => budget.checkSwap('/m', courseCnn), /need about 1670 MB .* of 1024 MB .*; or set model\.backend=wasm \(no OpenCV DNN comparison at load\), which needs about 926 MB$/);
    const tfjs = new MemoryBudget('wasm', { limit: () => serviceLimit(900), rss: () => 190 * MB, underSystemd: false });
    assert.throws(() => tfjs.checkSwap('/m', courseCnn), /need about 926 MB .* over this process's memory limit \(memory\.max in \/sys\/fs\/cgroup\/system\.slice\/edgesight\.service\) of 900 MB .*raise the limit to 1024 MB or more; or serve it from the start as model\.path \(about 830 MB at start-up\)$/);
  });

  it('admits a model whose estimated peak fits under the limit less the headroom, and anything where there is no limit', () => {
    const rss = 190 * MB;
    const weights = 64 * MB;
    const need = rss + SWAP_COST.opencv.base + SWAP_COST.opencv.perWeightByte * weights;
    const exactly = new MemoryBudget('auto', { limit: () => ({ ...serviceLimit(0), bytes: need + HEADROOM_BYTES }), rss: () => rss });
    exactly.checkSwap('/m', weights);
    const oneMbShort = new MemoryBudget('auto', { limit: () => ({ ...serviceLimit(0), bytes: need + HEADROOM_BYTES - MB }), rss: () => rss });
    assert.throws(() => oneMbShort.checkSwap('/m', weights), ModelPackageError);
    new MemoryBudget('auto', { limit: () => undefined, rss: () => rss }).checkSwap('/m', 4096 * MB);
  });

  it('gives the room left under the limit less the headroom and what the process holds now, and none without a limit', () => {
    const budget = new MemoryBudget('auto', { limit: () => serviceLimit(1024), rss: () => 300 * MB });
    assert.equal(budget.room(), 1024 * MB - HEADROOM_BYTES - 300 * MB);
    assert.equal(new MemoryBudget('auto', { limit: () => undefined, rss: () => 300 * MB }).room(), undefined);
  });

  it('leaves the inference workers\' copies out of the swap check: they are planned in the room left after the load', () => {
    const weights = 100 * MB;
    let rss = 190 * MB;
    const budget = new MemoryBudget('wasm', { limit: () => serviceLimit(1024), rss: () => rss });
    assert.doesNotThrow(() => budget.checkSwap('/models/cnn', weights), 'the load itself fits');
    rss = 190 * MB + 4 * weights; // after the load here
    const twoWorkers = 2 * workerBytesFor(weights);
    assert.ok(twoWorkers > budget.room()!, 'their copies would not fit');
    const plan = planWorkers(2, 'tfjs', 'wasm', 30, 2, weights, 10 * 1024 * MB, budget.room());
    assert.equal(plan.workers, 1, plan.why);
    assert.match(plan.why, /left under the memory limit/);
  });

  it('counts what the daemon holds now: the same package passes beside a small model and not beside a big one', () => {
    let rss = 190 * MB;
    const budget = new MemoryBudget('wasm', { limit: () => serviceLimit(1024), rss: () => rss });
    budget.checkSwap('/m', 100 * MB);
    rss = 690 * MB;
    assert.throws(() => budget.checkSwap('/m', 100 * MB), /now 690 MB/);
  });

  it('reads the limit at every check (systemctl set-property changes it while running)', () => {
    let limit = serviceLimit(768);
    const budget = new MemoryBudget('wasm', { limit: () => limit, rss: () => 190 * MB });
    assert.throws(() => budget.checkSwap('/m', courseCnn), /of 768 MB/);
    limit = serviceLimit(2048);
    budget.checkSwap('/m', courseCnn);
  });

  it('at start: refuses a package from its files (sparse 160 MB of weights) under a limit it cannot load in, and passes it under one it can', () => {
    const dir = bigPackage(40);
    const tooSmall = new MemoryBudget('auto', { limit: () => serviceLimit(768), rss: () => 170 * MB, underSystemd: true });
    assert.throws(() => tooSmall.checkStart(dir), (err: unknown) => {
      assert.ok(err instanceof ModelPackageError);
      assert.equal(err.file, path.join(dir, 'model.json'));
      assert.match(err.problem, /^weights of 160 MB need about 1606 MB to load \(the daemon holds 170 MB before it\), over the service's memory limit \(MemoryMax, .*\) of 768 MB; raise it with `sudo systemctl edit edgesight` \(\[Service\] MemoryMax=1792M\) and restart$/);
      return true;
    });
    new MemoryBudget('wasm', { limit: () => serviceLimit(1024), rss: () => 170 * MB }).checkStart(dir);
    // Whatever its size, a package whose files are broken is left to the loader to describe.
    fs.rmSync(path.join(dir, 'weights.bin'));
    tooSmall.checkStart(dir);
  });
});
