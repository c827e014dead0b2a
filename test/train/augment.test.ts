import { strict as assert } from 'node:assert';
import { augment, NO_AUGMENTATION } from '../../src/train/augment';
import { augmentDigit } from '../../src/train/digit-augment';
import { loadMnistSplit } from '../../src/demo/mnist-digits';
import { seededRandom } from '../../src/util/random';
import { cv } from '../../src/vision/cv';

describe('augmentation', () => {
  it('leaves an image unchanged with no augmentation', () => {
    const image = new cv.Mat(20, 30, cv.CV_8UC1, 0);
    image.drawRectangle(new cv.Point2(5, 5), new cv.Point2(12, 9), new cv.Vec3(255, 255, 255), -1);
    const out = augment(image, NO_AUGMENTATION, seededRandom(1));
    assert.equal(out.absdiff(image).countNonZero(), 0);
  });

  it('flips horizontally when asked (about half the time)', () => {
    const image = new cv.Mat(10, 10, cv.CV_8UC1, 0);
    image.drawRectangle(new cv.Point2(0, 0), new cv.Point2(2, 9), new cv.Vec3(255, 255, 255), -1);
    const random = seededRandom(2);
    let flipped = 0;
    for (let i = 0; i < 40; i++) if (augment(image, { ...NO_AUGMENTATION, horizontalFlip: true }, random).at(5, 8) > 128) flipped++;
    assert.ok(flipped > 10 && flipped < 30, `flipped ${flipped} of 40`);
  });

  it('shrinks content with zoom below 1 and fills with cval', () => {
    const image = new cv.Mat(40, 40, cv.CV_8UC1, 255);
    const out = augment(image, { ...NO_AUGMENTATION, zoomRange: [0.5, 0.5], cval: 0 }, seededRandom(3));
    assert.equal(out.at(0, 0), 0);
    assert.equal(out.at(20, 20), 255);
    assert.ok(Math.abs(out.countNonZero() - 400) < 60, `${out.countNonZero()} lit pixels, about a 20x20 square`);
  });

  it('is reproducible with the same seed and varies with another', () => {
    const digit = loadMnistSplit().train[7][0];
    const a = augmentDigit(digit, seededRandom(9)).getData();
    const b = augmentDigit(digit, seededRandom(9)).getData();
    const c = augmentDigit(digit, seededRandom(10)).getData();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});
