import { loadMnistSplit } from '../demo/mnist-digits';
import { randomWebcamPose } from '../train/digit-eval';
import { seededRandom } from '../util/random';
import { cv } from '../vision/cv';
import { PaperDigitScene } from '../demo/digit-scene';

export interface ClipOptions {
  digits: number;
  framesPerDigit: number;
  fps?: number;
  seed?: number;
  width?: number;
  height?: number;
}

/**
 * Writes an MJPEG clip of validation digits held up on paper (the scene a webcam sees) with
 * OpenCV's VideoWriter and returns each frame's digit. Test clips and benchmark clips come from
 * here, so both exercise the path from camera-like frames to the model.
 */
export function writePaperDigitClip(file: string, options: ClipOptions): string[] {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const writer = new cv.VideoWriter(file, cv.VideoWriter.fourcc('MJPG'), options.fps ?? 15, new cv.Size(width, height), true);
  const scene = new PaperDigitScene(width, height);
  const random = seededRandom(options.seed ?? 5);
  const validation = loadMnistSplit().validation;
  const truths: string[] = [];
  for (let d = 0; d < options.digits; d++) {
    const label = d % 10;
    const pool = validation[label];
    const image = pool[Math.floor(random() * pool.length)];
    const pose = randomWebcamPose(random);
    for (let f = 0; f < options.framesPerDigit; f++) {
      // The hand moves a little between frames: a slow turn and drift.
      const frame = scene.render(image, { ...pose, angle: pose.angle + f * 0.3, dx: pose.dx + f * 0.002 });
      writer.write(frame);
      frame.release();
      truths.push(String(label));
    }
  }
  writer.release();
  return truths;
}
