import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OpenCvSource } from '../../src/capture/opencv-source';
import { selectBackend } from '../../src/model/backend';
import { Classifier } from '../../src/model/classifier';
import type { InferenceEngine } from '../../src/model/engine/inference-engine';
import { selectEngine } from '../../src/model/engine/select-engine';
import { loadModelPackage } from '../../src/model/model-package';
import { InferencePool } from '../../src/model/pool/inference-pool';
import { PoolEngine } from '../../src/model/pool/pool-engine';
import { serveOnPool } from '../../src/model/pool/serve-on-pool';
import { DecisionMaker } from '../../src/pipeline/decision';
import { Pipeline, type FrameResult } from '../../src/pipeline/pipeline';
import { silentLogger } from '../../src/util/logger';
import { assertSameAsOneByOne } from '../helpers/one-by-one';
import { defaultModelDir, tempDir, writePaperDigitClip } from '../helpers/fixtures';
import { digitsPackage, editJson } from '../helpers/model-packages';

const decisionSettings = { topK: 3, threshold: 0.5, smoothing: 'none' as const, window: 5, votes: 3 };

async function poolClassifier(pool: InferencePool, dir: string): Promise<Classifier> {
  const loaded = await loadModelPackage(dir);
  const served = await serveOnPool(loaded, await selectEngine(loaded, { preference: 'wasm', threads: 0 }), { pool, setting: pool.size, onFailure: 'refuse' });
  assert.ok(served.engine instanceof PoolEngine, served.summary);
  return new Classifier(loaded, served.engine, served.summary);
}

/**
 * The engine with a delay after each run, long for every other call: a run started later then
 * finishes first, as runs on two workers do when one is held up.
 */
function jittered(engine: InferenceEngine, log: { completions: number[]; inFlight: number; maxInFlight: number }): InferenceEngine {
  let calls = 0;
  return {
    name: engine.name,
    units: engine.units,
    concurrency: 2,
    sharedInput: engine.sharedInput,
    run: (input, count) => engine.run(input, count),
    runAsync: async (input, count) => {
      const call = calls++;
      log.inFlight++;
      log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
      const out = (await engine.runAsync(input, count)).slice();
      await new Promise((r) => setTimeout(r, call % 2 === 0 ? 40 : 5));
      log.inFlight--;
      log.completions.push(call);
      return out;
    },
    dispose: () => engine.dispose(),
  };
}

describe('Pipeline on the inference pool (real workers, real clip, default model)', function () {
  this.timeout(180_000);
  let pool: InferencePool;
  let clip: string;
  let truths: string[];

  before(async () => {
    await selectBackend('wasm');
    pool = new InferencePool(2, silentLogger());
    clip = path.join(tempDir(), 'paper-60fps.avi');
    truths = writePaperDigitClip(clip, { digits: 20, framesPerDigit: 6, seed: 11, fps: 60 });
  });
  after(async () => {
    await pool.stop();
    assert.equal(pool.threads().length, 0);
  });

  function run(source: OpenCvSource, classifier: Classifier, batchSize = 1): { pipeline: Pipeline; results: FrameResult[] } {
    const pipeline = new Pipeline({ source, classifier, decisions: new DecisionMaker(classifier.labels, decisionSettings), log: silentLogger(), overlay: false, jpegQuality: 80, maxFps: 0, batchSize });
    const results: FrameResult[] = [];
    pipeline.events.on('result', (r) => results.push(r));
    return { pipeline, results };
  }

  it('a live source: two frames in flight, each the newest when taken, published in capture order even when the newer finishes first', async () => {
    const onPool = await poolClassifier(pool, defaultModelDir);
    const log = { completions: [] as number[], inFlight: 0, maxInFlight: 0 };
    const classifier = new Classifier(onPool.loaded, jittered(onPool.engine, log), 'jittered pool');
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: false, realtime: true });
    await source.open();
    const { pipeline, results } = run(source, classifier);
    // The newest frame captured when each batch was handed to the classifier.
    const newestAtStart: number[] = [];
    const classify = classifier.classifyBatchAsync.bind(classifier);
    classifier.classifyBatchAsync = (smalls, count) => {
      newestAtStart.push(pipeline.stats.captured);
      return classify(smalls, count);
    };
    await pipeline.start();
    await source.close();
    try {
      assert.equal(log.maxInFlight, 2, 'never two frames in flight');
      const overtaken = log.completions.filter((call, i) => i > 0 && call < log.completions[i - 1]).length;
      assert.ok(overtaken > 5, `runs finished in order anyway (${overtaken} overtaken): the test shows nothing`);
      for (let i = 1; i < results.length; i++) assert.ok(results[i].seq > results[i - 1].seq, `result ${i} (frame ${results[i].seq}) after frame ${results[i - 1].seq}`);
      // Results go out in the order the batches started: the i-th took the newest frame then (one
      // more may have come in while it was being shrunk), never an older one waiting in a queue.
      assert.equal(results.length, newestAtStart.length);
      results.forEach((r, i) => assert.ok(r.seq >= newestAtStart[i] - 1, `batch ${i} took frame ${r.seq} when ${newestAtStart[i]} was the newest`));
      const stats = pipeline.stats.snapshot();
      assert.ok(stats.dropped > 0, 'a source faster than the classifier drops frames');
      assert.equal(stats.classified + stats.dropped, truths.length);
      const correct = results.filter((r) => r.decision.frameTop.label === truths[r.seq - 1]).length;
      assert.ok(correct / results.length >= 0.9, `accuracy ${correct}/${results.length}`);
    } finally {
      classifier.dispose();
    }
  });

  it('a file read on demand: every frame, in batches of 4 with two batches in flight, in order, with the answers of this process', async () => {
    const classifier = await poolClassifier(pool, defaultModelDir);
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: false, realtime: false });
    await source.open();
    const { pipeline, results } = run(source, classifier, 4);
    let inFlight = 0;
    let maxInFlight = 0;
    const sizes: number[] = [];
    const classify = classifier.classifyBatchAsync.bind(classifier);
    classifier.classifyBatchAsync = async (smalls, count) => {
      sizes.push(count);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        const result = await classify(smalls, count);
        // Copied before the wait (the pipeline copies at once; a later call reuses the result).
        const copy = { ...result, scores: result.scores.slice(0, count).map((s) => s.slice()) };
        // Held a little, as a slower model would be: the next batch forms and starts meanwhile.
        await new Promise((r) => setTimeout(r, 30));
        return copy;
      } finally {
        inFlight--;
      }
    };
    await pipeline.start();
    await source.close();
    try {
      assert.equal(pipeline.stats.snapshot().dropped, 0);
      assert.deepEqual(results.map((r) => r.seq), truths.map((_, i) => i + 1), 'every frame, in order');
      assert.ok(sizes.filter((n) => n === 4).length >= sizes.length / 2, `mostly full batches: ${sizes.join(',')}`);
      assert.equal(maxInFlight, 2);
      assertSameAsOneByOne(clip, results, classifier, 1e-5);
    } finally {
      classifier.dispose();
    }
  });

  it('a worker killed mid-stream costs the frame it had, the stream goes on in order and the worker comes back', async () => {
    const classifier = await poolClassifier(pool, defaultModelDir);
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: false, realtime: false });
    await source.open();
    const { pipeline, results } = run(source, classifier, 1);
    const crashesBefore = pool.status().crashes;
    let killedAt = -1;
    pipeline.events.on('result', (r) => {
      if (r.seq === 30) {
        killedAt = results.length;
        void pool.threads()[1].terminate();
      }
    });
    await pipeline.start();
    await source.close();
    try {
      assert.ok(killedAt > 0);
      for (let i = 1; i < results.length; i++) assert.ok(results[i].seq > results[i - 1].seq, 'in order');
      const lost = truths.length - results.length;
      assert.ok(lost >= 0 && lost <= 2, `${lost} frames lost to one crash`);
      assert.equal(pool.status().crashes, crashesBefore + 1);
      const correct = results.filter((r) => r.decision.frameTop.label === truths[r.seq - 1]).length;
      assert.ok(correct / results.length >= 0.9, `accuracy ${correct}/${results.length}`);
      const started = Date.now();
      while (pool.capacity((classifier.engine as PoolEngine).model) < 2) {
        assert.ok(Date.now() - started < 30_000, 'the killed worker did not come back');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      classifier.dispose();
    }
  });

  it('a swap while frames are in flight: every frame before the switch decided by the old model, every one after by the new, in order', async () => {
    const old = await poolClassifier(pool, defaultModelDir);
    // The same network under other labels, so that each result says which model made it.
    const renamed = digitsPackage('renamed');
    editJson(path.join(renamed, 'metadata.json'), (meta) => ({ ...meta, labels: meta.labels.map((l: string) => `new-${l}`) }));
    assert.ok(fs.existsSync(path.join(renamed, 'model.json')));
    const next = await poolClassifier(pool, renamed);
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: false, realtime: false });
    await source.open();
    const { pipeline, results } = run(source, old, 4);
    let swappedAfter = -1;
    pipeline.events.on('result', (r) => {
      if (r.seq >= 40 && swappedAfter < 0) {
        swappedAfter = r.seq;
        pipeline.replaceModel(next, new DecisionMaker(next.labels, decisionSettings)).dispose();
      }
    });
    await pipeline.start();
    await source.close();
    try {
      assert.deepEqual(results.map((r) => r.seq), truths.map((_, i) => i + 1), 'every frame, in order, across the swap');
      const fromNew = results.map((r) => r.decision.frameTop.label.startsWith('new-'));
      const first = fromNew.indexOf(true);
      assert.ok(first > 0, 'the new model never served');
      assert.ok(fromNew.slice(first).every(Boolean), 'a frame of the old model came after one of the new');
      assert.ok(fromNew.slice(0, first).every((f) => !f));
      assert.ok(results[first].seq > swappedAfter, 'frames started before the swap finish on the old model');
      // The old model was dropped from the workers after its last run.
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(pool.status().workers.map((w) => w.models), [[(next.engine as PoolEngine).model], [(next.engine as PoolEngine).model]]);
    } finally {
      next.dispose();
    }
  });
});
