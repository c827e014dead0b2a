import { strict as assert } from 'node:assert';
import type { Classifier } from '../../src/model/classifier';
import type { FrameResult } from '../../src/pipeline/pipeline';
import { cv } from '../../src/vision/cv';

/**
 * Reads `clip` again from its start and checks that each result's top confidence is what
 * classifying its frame alone gives (results must cover every frame, in order, from the first):
 * batching, worker threads or another engine must not change a frame's answer.
 */
export function assertSameAsOneByOne(clip: string, results: readonly FrameResult[], classifier: Classifier, tolerance: number): void {
  const video = new cv.VideoCapture(clip);
  try {
    for (const r of results) {
      const mat = video.read();
      const alone = classifier.classify(mat).scores;
      mat.release();
      assert.ok(Math.abs(Math.max(...alone) - r.decision.frameTop.confidence) < tolerance, `frame ${r.seq}`);
    }
  } finally {
    video.release();
  }
}
