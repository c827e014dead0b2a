import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../util/random';
import { cv, matFromPixels, releaseAll } from '../vision/cv';
import { PaperDigitScene, type PaperDigitPose } from '../demo/digit-scene';
import type { Preprocessor } from '../vision/preprocess';
import { thinPenDigit } from './digit-augment';

export interface DigitEvaluation {
  mnistAccuracy: number;
  mnistTotal: number;
  paperAccuracy: number;
  paperTotal: number;
}

/** A random pose of a digit held up to a webcam: 40-55% of the frame height, up to 12 degrees, near the middle. */
export function randomWebcamPose(random: () => number): PaperDigitPose {
  return {
    inkHeight: 0.4 + 0.15 * random(),
    angle: -12 + 24 * random(),
    dx: (random() - 0.5) * 0.1,
    dy: (random() - 0.5) * 0.08,
  };
}

/**
 * Accuracy on the two scenes the default model must handle: MNIST validation digits as they
 * are (light on dark, 28x28) and the same digits drawn dark on light paper in a 640x480
 * frame, JPEG-compressed as an MJPEG camera would send them (with `penStrokes`, redrawn as
 * thin pen lines first, the harder case of a fineliner seen from arm's length).
 */
export function evaluateDigits(
  predict: (input: tf.Tensor4D) => tf.Tensor,
  preprocessor: Preprocessor,
  validation: Uint8Array[][],
  options: { paperSamples: number; seed: number; penStrokes?: boolean },
): DigitEvaluation {
  const mnist: Array<{ values: Float32Array; label: number }> = [];
  validation.forEach((images, label) =>
    images.forEach((image) => {
      const mat = matFromPixels(image, 28, 28);
      mnist.push({ values: preprocessor.run(mat, new Float32Array(784)), label });
      mat.release();
    }),
  );
  const random = seededRandom(options.seed);
  const scene = new PaperDigitScene(640, 480);
  const paper: Array<{ values: Float32Array; label: number }> = [];
  for (let i = 0; i < options.paperSamples; i++) {
    const label = i % 10;
    const pool = validation[label];
    const digit = pool[Math.floor(random() * pool.length)];
    const frame = scene.render(options.penStrokes ? thinPenDigit(digit, random) : digit, randomWebcamPose(random));
    const decoded = cv.imdecode(cv.imencode('.jpg', frame, [cv.IMWRITE_JPEG_QUALITY, 80]));
    paper.push({ values: preprocessor.run(decoded, new Float32Array(784)), label });
    releaseAll(frame, decoded);
  }
  const mnistCorrect = countCorrect(predict, mnist);
  const paperCorrect = countCorrect(predict, paper);
  return { mnistAccuracy: mnistCorrect / mnist.length, mnistTotal: mnist.length, paperAccuracy: paper.length ? paperCorrect / paper.length : 0, paperTotal: paper.length };
}

function countCorrect(predict: (input: tf.Tensor4D) => tf.Tensor, samples: Array<{ values: Float32Array; label: number }>): number {
  let correct = 0;
  const batch = 256;
  for (let start = 0; start < samples.length; start += batch) {
    const chunk = samples.slice(start, start + batch);
    const data = new Float32Array(chunk.length * 784);
    chunk.forEach((s, i) => data.set(s.values, i * 784));
    const predicted = tf.tidy(() => predict(tf.tensor4d(data, [chunk.length, 28, 28, 1])).argMax(-1).dataSync());
    chunk.forEach((s, i) => {
      if (predicted[i] === s.label) correct++;
    });
  }
  return correct;
}
