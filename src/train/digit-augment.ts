import { cv, matFromPixels, releaseAll, type Mat } from '../vision/cv';
import { augment, NO_AUGMENTATION, type AugmentOptions } from './augment';

/**
 * The augmentation that makes an MNIST-trained model work on a webcam: digits smaller and
 * turned (a sheet of paper held up to a camera fills only part of the frame), pen strokes
 * thinner or bolder, faint ink, a grey background with sensor noise and blur, and half of
 * the samples in the other polarity (dark on light) so that the preprocessing contract's
 * auto-inversion is part of what is trained.
 */
export const DIGIT_GEOMETRY: AugmentOptions = { ...NO_AUGMENTATION, rotationRange: 15, widthShiftRange: 0.12, heightShiftRange: 0.12, shearRange: 10, zoomRange: [0.4, 1.1] };

/** For 40% of samples: close to MNIST as it is, so the model stays sharp on clean digits. */
export const DIGIT_GEOMETRY_MILD: AugmentOptions = { ...DIGIT_GEOMETRY, rotationRange: 12, widthShiftRange: 0.08, heightShiftRange: 0.08, shearRange: 8, zoomRange: [0.8, 1.1] };

const WORK = 56; // geometry and stroke width are changed at twice the size, then area-averaged down

export function augmentDigit(digit: Uint8Array, random: () => number): Mat {
  const made: Mat[] = [];
  const keep = (m: Mat) => (made.push(m), m);
  const source = keep(matFromPixels(digit, 28, 28));
  let big = keep(source.resize(WORK, WORK, 0, 0, cv.INTER_LINEAR));
  const stroke = random();
  if (stroke < 0.3) {
    // A bolder marker or a lighter hand.
    const kernel = keep(cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(3, 3)));
    big = keep(stroke < 0.15 ? big.dilate(kernel) : big.erode(kernel));
  } else if (stroke < 0.55) {
    big = keep(penStroke(source, random, made));
  }
  const mild = random() < 0.4;
  big = keep(augment(big, mild ? DIGIT_GEOMETRY_MILD : DIGIT_GEOMETRY, random));
  const small = keep(big.resize(28, 28, 0, 0, cv.INTER_AREA));

  const pixels = small.getData();
  const inkScale = mild ? 0.8 + 0.2 * random() : 0.55 + 0.45 * random();
  const background = !mild && random() < 0.6 ? 70 * random() : 0;
  const noise = !mild && random() < 0.6 ? 12 * random() : 0;
  const flip = random() < 0.5;
  for (let i = 0; i < pixels.length; i++) {
    let v = background + pixels[i] * inkScale * ((255 - background) / 255);
    if (noise > 0) v += noise * gaussian(random);
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    pixels[i] = flip ? 255 - v : v;
  }
  releaseAll(...made);
  const out = matFromPixels(pixels, 28, 28);
  if (random() >= 0.3) return out;
  const blurred = out.gaussianBlur(new cv.Size(3, 3), 0.3 + 0.7 * random());
  out.release();
  return blurred;
}

/**
 * Redraws the digit as a thin, crisp pen line: MNIST strokes are soft and about 2-3 px wide
 * at 28 px, where a ballpoint or fineliner photographed at arm's length is under a pixel.
 * Binarise at 4x, erode to a random width (keeping at least some ink), soften the edge.
 */
function penStroke(source: Mat, random: () => number, made: Mat[]): Mat {
  const keep = (m: Mat) => (made.push(m), m);
  const large = keep(source.resize(WORK * 2, WORK * 2, 0, 0, cv.INTER_CUBIC));
  const binary = keep(large.threshold(60 + 100 * random(), 255, cv.THRESH_BINARY));
  const size = [3, 5, 7][Math.floor(random() * 3)];
  const kernel = keep(cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(size, size)));
  const thin = keep(binary.erode(kernel));
  const inked = thin.countNonZero() > 40 ? thin : binary;
  const soft = keep(inked.gaussianBlur(new cv.Size(3, 3), 0.8));
  return soft.resize(WORK, WORK, 0, 0, cv.INTER_AREA);
}

/** A 28x28 digit redrawn as a thin pen line (light on dark, like the input): for evaluation. */
export function thinPenDigit(digit: Uint8Array, random: () => number): Uint8Array {
  const made: Mat[] = [];
  const source = matFromPixels(digit, 28, 28);
  made.push(source);
  const pen = penStroke(source, random, made);
  const small = pen.resize(28, 28, 0, 0, cv.INTER_AREA);
  const out = new Uint8Array(small.getData());
  releaseAll(...made, pen, small);
  return out;
}

/** Standard normal deviate (Box-Muller). */
function gaussian(random: () => number): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
