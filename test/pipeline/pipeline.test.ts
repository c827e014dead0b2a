import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { OpenCvSource } from '../../src/capture/opencv-source';
import type { CapturedImage, FrameSource } from '../../src/capture/frame-source';
import { selectBackend } from '../../src/model/backend';
import { Classifier } from '../../src/model/classifier';
import { loadModelPackage } from '../../src/model/model-package';
import { DecisionMaker } from '../../src/pipeline/decision';
import { Pipeline, type FrameResult } from '../../src/pipeline/pipeline';
import { silentLogger } from '../../src/util/logger';
import { cv } from '../../src/vision/cv';
import { selectEngine } from '../../src/model/engine/select-engine';
import { assertSameAsOneByOne } from '../helpers/one-by-one';
import { defaultModelDir, tempDir, writePaperDigitClip } from '../helpers/fixtures';

const decisionSettings = { topK: 3, threshold: 0.5, smoothing: 'none' as const, window: 5, votes: 3 };

function makePipeline(source: FrameSource, classifier: Classifier, overrides: Partial<ConstructorParameters<typeof Pipeline>[0]> = {}): Pipeline {
  return new Pipeline({ source, classifier, decisions: new DecisionMaker(classifier.labels, decisionSettings), log: silentLogger(), overlay: true, jpegQuality: 80, maxFps: 0, ...overrides });
}

/** The classifier, recording the size of every batch it is given. */
function countingBatches(classifier: Classifier): { counting: Classifier; batchSizes: number[] } {
  const counting = Object.create(classifier) as Classifier;
  const batchSizes: number[] = [];
  counting.classifyBatchAsync = (smalls, count) => {
    batchSizes.push(count);
    return classifier.classifyBatchAsync(smalls, count);
  };
  return { counting, batchSizes };
}

/** Runs a pipeline (batchSize 4) over the whole clip, played at its fps or read on demand, and returns what it decided. */
async function classifyClip(clip: string, realtime: boolean, classifier: Classifier): Promise<{ pipeline: Pipeline; results: FrameResult[] }> {
  const source = new OpenCvSource({ kind: 'file', target: clip, loop: false, realtime });
  await source.open();
  const pipeline = makePipeline(source, classifier, { batchSize: 4 });
  const results: FrameResult[] = [];
  pipeline.events.on('result', (r) => results.push(r));
  await pipeline.start();
  await source.close();
  return { pipeline, results };
}

describe('Pipeline on a real clip with the default model', function () {
  this.timeout(300_000);
  let classifier: Classifier;
  let clip: string;
  let truths: string[];

  before(async () => {
    await selectBackend('auto');
    classifier = new Classifier(await loadModelPackage(defaultModelDir));
    clip = path.join(tempDir(), 'paper.avi');
    truths = writePaperDigitClip(clip, { digits: 20, framesPerDigit: 6, seed: 11 });
  });
  after(() => classifier.dispose());

  it('classifies the frames it takes correctly and in order, dropping stale ones, one at a time', async () => {
    const { counting, batchSizes } = countingBatches(classifier);
    // A live source: the newest frame alone, whatever batchSize says.
    const { pipeline, results } = await classifyClip(clip, true, counting);
    assert.ok(results.length > truths.length * 0.5, `classified ${results.length} of ${truths.length}`);
    for (let i = 1; i < results.length; i++) assert.ok(results[i].seq > results[i - 1].seq, 'in order');
    const correct = results.filter((r) => r.decision.frameTop.label === truths[r.seq - 1]).length;
    assert.ok(correct / results.length >= 0.9, `accuracy ${correct}/${results.length}`);
    const stats = pipeline.stats.snapshot();
    assert.equal(stats.captured, truths.length);
    assert.equal(stats.classified + stats.dropped, stats.captured);
    assert.ok(stats.stageMs.infer > 0 && stats.stageMs.preprocess > 0 && stats.stageMs.read > 0);
    assert.deepEqual([...new Set(batchSizes)], [1]);
  });

  it('never queues: a slow classifier drops frames instead of falling behind', async () => {
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: false, realtime: true });
    await source.open();
    const slow = Object.create(classifier) as Classifier;
    // Inference is what is slow.
    slow.classifyBatchAsync = (smalls, count) => {
      const until = performance.now() + 150; // 150 ms per frame: over twice the 67 ms frame interval of the 15 fps clip, so most frames must be dropped
      while (performance.now() < until);
      return classifier.classifyBatchAsync(smalls, count);
    };
    const pipeline = makePipeline(source, slow);
    const latencies: number[] = [];
    const results: FrameResult[] = [];
    pipeline.events.on('result', (r) => {
      latencies.push(r.decidedAt - r.capturedAt);
      results.push(r);
    });
    await pipeline.start();
    await source.close();
    const stats = pipeline.stats.snapshot();
    assert.ok(stats.dropped > stats.classified, `dropped ${stats.dropped}, classified ${stats.classified}`);
    // Latency stays within a few classifications (150 ms each); with a queue it would grow to seconds.
    assert.ok(Math.max(...latencies) < 1000, `max latency ${Math.max(...latencies)} ms`);
    // Sequence numbers count every captured frame, skipped ones included, so they still name the right frame.
    const correct = results.filter((r) => r.decision.frameTop.label === truths[r.seq - 1]).length;
    assert.ok(correct / results.length >= 0.85, `accuracy ${correct}/${results.length}`);
  });

  it('classifies every frame of a file read on demand, in batches, with the same answers as one by one', async () => {
    const { counting, batchSizes } = countingBatches(classifier);
    const { pipeline, results } = await classifyClip(clip, false, counting);
    const stats = pipeline.stats.snapshot();
    assert.equal(stats.captured, truths.length);
    assert.equal(stats.dropped, 0);
    assert.deepEqual(results.map((r) => r.seq), truths.map((_, i) => i + 1), 'every frame, in order');
    assert.ok(Math.max(...batchSizes) === 4, `batch sizes ${batchSizes.join(',')}`);
    assert.ok(batchSizes.filter((n) => n === 4).length >= batchSizes.length / 2, `mostly full batches: ${batchSizes.join(',')}`);
    // The same frames one at a time give the same decisions.
    assertSameAsOneByOne(clip, results, classifier, 1e-5);
    const correct = results.filter((r) => r.decision.frameTop.label === truths[r.seq - 1]).length;
    assert.ok(correct / results.length >= 0.9, `accuracy ${correct}/${results.length}`);
  });

  it('on OpenCV DNN (forwardAsync): every frame of a file read on demand, in batches of 4, in order, with the answers TF.js gives one by one', async () => {
    const loaded = await loadModelPackage(defaultModelDir);
    const selection = await selectEngine(loaded, { preference: 'opencv', threads: 1 });
    const onOpenCv = new Classifier(loaded, selection.engine, selection.summary);
    try {
      assert.equal(onOpenCv.engine.name, 'opencv', selection.summary);
      const { counting, batchSizes } = countingBatches(onOpenCv);
      const { pipeline, results } = await classifyClip(clip, false, counting);
      assert.equal(pipeline.stats.snapshot().dropped, 0);
      assert.deepEqual(results.map((r) => r.seq), truths.map((_, i) => i + 1), 'every frame, in order');
      assert.ok(batchSizes.filter((n) => n === 4).length >= batchSizes.length / 2, `mostly full batches: ${batchSizes.join(',')}`);
      assert.ok(results.every((r) => r.timings.infer > 0), 'infer timed per frame');
      assertSameAsOneByOne(clip, results, classifier, 1e-4);
    } finally {
      onOpenCv.dispose();
    }
  });

  it('encodes JPEG only while someone asks for it', async () => {
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: true, realtime: false });
    await source.open();
    const pipeline = makePipeline(source, classifier);
    const jpegs: Buffer[] = [];
    pipeline.events.on('jpeg', ({ jpeg }) => jpegs.push(jpeg));
    let results = 0;
    pipeline.events.on('result', () => results++);
    void pipeline.start();
    while (results < 10) await new Promise((r) => setTimeout(r, 10));
    assert.equal(jpegs.length, 0);
    assert.equal(pipeline.stats.encoded, 0);
    assert.equal(pipeline.stats.stageMs.overlay, 0, 'nothing drawn while nobody watches');
    const release = pipeline.requestJpeg();
    while (jpegs.length < 5) await new Promise((r) => setTimeout(r, 10));
    assert.ok(pipeline.stats.stageMs.overlay > 0, 'frames for viewers are annotated');
    release();
    await new Promise((r) => setTimeout(r, 100));
    const encoded = pipeline.stats.encoded;
    const before = results;
    while (results < before + 10) await new Promise((r) => setTimeout(r, 10));
    await pipeline.stop();
    await source.close();
    assert.equal(pipeline.stats.encoded, encoded, 'no encoding after release');
    const decoded = cv.imdecode(jpegs[0]);
    assert.equal(decoded.cols, 640);
    assert.equal(decoded.rows, 480);
  });

  it('with stream.maxFps 0, draws and encodes every classified frame of a file read in batches, and sends pictures in order', async () => {
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: false, realtime: false });
    await source.open();
    const { counting, batchSizes } = countingBatches(classifier);
    const pipeline = makePipeline(source, counting, { batchSize: 4, streamMaxFps: 0 });
    const seqs: number[] = [];
    pipeline.events.on('jpeg', ({ result }) => seqs.push(result.seq));
    const release = pipeline.requestJpeg();
    await pipeline.start();
    await new Promise((r) => setTimeout(r, 200));
    release();
    await source.close();
    assert.ok(Math.max(...batchSizes) === 4, `batch sizes ${batchSizes.join(',')}`);
    // One encode at a time gave only each batch's first frame a picture.
    assert.equal(pipeline.stats.encoded, pipeline.stats.classified, `${pipeline.stats.encoded} of ${pipeline.stats.classified} classified frames encoded`);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'pictures went out of order');
    assert.equal(seqs.length, pipeline.stats.classified, 'a picture was encoded but not sent');
  });

  it('keeps tf.memory().numTensors flat over 10,000 classified frames', async () => {
    const frame = new cv.Mat(480, 640, cv.CV_8UC3, [200, 210, 220]);
    let served = 0;
    let classified = 0;
    let consumed: (() => void) | undefined;
    // A source that hands over the next frame only once the last one is classified, so all 10,000 are.
    const lockstep: FrameSource = {
      kind: 'demo',
      description: 'one frame 10,000 times',
      paceFps: undefined,
      open: async () => {},
      read: async (): Promise<CapturedImage | null> => {
        while (classified < served) await new Promise<void>((resolve) => (consumed = resolve));
        return served++ < 10_000 ? { mat: frame.copy() } : null;
      },
      close: async () => {},
    };
    const pipeline = makePipeline(lockstep, classifier);
    let after100 = -1;
    pipeline.events.on('result', () => {
      if (pipeline.stats.classified === 100) after100 = tf.memory().numTensors;
      classified++;
      consumed?.();
    });
    await pipeline.start();
    assert.equal(pipeline.stats.classified, 10_000);
    assert.ok(after100 > 0);
    assert.equal(tf.memory().numTensors, after100);
  });
});
