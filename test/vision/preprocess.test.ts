import { strict as assert } from 'node:assert';
import type { PreprocessContract } from '../../src/vision/preprocess';
import { cv } from '../../src/vision/cv';
import { borderMean, Preprocessor, wholeFactor, writeValues } from '../../src/vision/preprocess';

const gray28: PreprocessContract = { width: 28, height: 28, channels: 1, resizeMode: 'stretch', colorOrder: 'rgb', range: [0, 1], invert: false, contrast: 'none' };

function grayMat(width: number, height: number, fill: number): import('@u4/opencv4nodejs').Mat {
  return new cv.Mat(height, width, cv.CV_8UC1, fill);
}

describe('Preprocessor', () => {
  it('maps 0..255 onto the contract range', () => {
    const out = new Preprocessor({ ...gray28, range: [-1, 1] }).run(grayMat(28, 28, 255));
    assert.ok(out.every((v) => Math.abs(v - 1) < 1e-6));
    const zero = new Preprocessor({ ...gray28, range: [-1, 1] }).run(grayMat(28, 28, 0));
    assert.ok(zero.every((v) => Math.abs(v + 1) < 1e-6));
  });

  it('auto-inverts a dark subject on light paper and leaves light-on-dark alone', () => {
    const contract: PreprocessContract = { ...gray28, invert: 'auto' };
    const paper = grayMat(28, 28, 220);
    paper.drawRectangle(new cv.Point2(10, 10), new cv.Point2(17, 17), new cv.Vec3(20, 20, 20), -1);
    const a = new Preprocessor(contract).run(paper, new Float32Array(784));
    assert.ok(a[14 * 28 + 14] > 0.9, 'ink becomes bright');
    assert.ok(a[0] < 0.2, 'paper becomes dark');
    const mnist = grayMat(28, 28, 0);
    mnist.drawRectangle(new cv.Point2(10, 10), new cv.Point2(17, 17), new cv.Vec3(255, 255, 255), -1);
    const b = new Preprocessor(contract).run(mnist, new Float32Array(784));
    assert.equal(b[14 * 28 + 14], 1);
    assert.equal(b[0], 0);
  });

  it('stretches contrast: background to 0, brightest to 1', () => {
    const pixels = new Uint8Array(16).fill(60);
    pixels[5] = 160;
    const out = new Float32Array(16);
    writeValues(pixels, { ...gray28, width: 4, height: 4, contrast: 'stretch' }, out);
    assert.ok(Math.abs(out[0]) < 1e-6);
    assert.ok(Math.abs(out[5] - 1) < 1e-6);
  });

  it('leaves a flat image flat instead of amplifying noise', () => {
    const pixels = new Uint8Array(16).fill(100);
    pixels[3] = 105;
    const out = new Float32Array(16);
    writeValues(pixels, { ...gray28, width: 4, height: 4, contrast: 'stretch' }, out);
    assert.ok(Math.abs(out[0] - 100 / 255) < 1e-6);
  });

  it('centre-crops to the model aspect before resizing', () => {
    // 640x480 frame: left and right 80 px bands are white, the centre 480x480 is black.
    const frame = new cv.Mat(480, 640, cv.CV_8UC3, [0, 0, 0]);
    frame.drawRectangle(new cv.Point2(0, 0), new cv.Point2(79, 479), new cv.Vec3(255, 255, 255), -1);
    frame.drawRectangle(new cv.Point2(560, 0), new cv.Point2(639, 479), new cv.Vec3(255, 255, 255), -1);
    const cropped = new Preprocessor({ ...gray28, resizeMode: 'center-crop' }).run(frame, new Float32Array(784));
    assert.ok(cropped.every((v) => v === 0), 'the white bands are cropped away');
    const stretched = new Preprocessor(gray28).run(frame, new Float32Array(784));
    assert.ok(stretched[0] > 0.9, 'stretch keeps them');
  });

  it('shrinks a large frame in two area steps to within a few levels of one area resize, on the pool too', async () => {
    assert.deepEqual([wholeFactor(640, 28), wholeFactor(480, 28), wholeFactor(1280, 28), wholeFactor(641, 28), wholeFactor(640, 150)], [5, 4, 10, 1, 1]);
    // Thin strokes and fine noise: what aliasing would show.
    const frame = new cv.Mat(480, 640, cv.CV_8UC3, [200, 205, 210]);
    for (let i = 0; i < 40; i++) frame.drawLine(new cv.Point2((i * 97) % 640, (i * 53) % 480), new cv.Point2((i * 31) % 640, (i * 211) % 480), new cv.Vec3(20, 30, 40), 1 + (i % 3));
    const contract: PreprocessContract = { ...gray28, channels: 3 };
    const preprocessor = new Preprocessor(contract);
    const small = preprocessor.shrink(frame);
    const pooled = await preprocessor.shrinkAsync(frame);
    const oneStep = frame.resize(28, 28, 0, 0, cv.INTER_AREA).cvtColor(cv.COLOR_BGR2RGB);
    const sampled = frame.resize(28, 28, 0, 0, cv.INTER_LINEAR).cvtColor(cv.COLOR_BGR2RGB);
    const diff = (a: Uint8Array, b: Uint8Array) => {
      let max = 0;
      let sum = 0;
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i] - b[i]);
        max = Math.max(max, d);
        sum += d;
      }
      return { max, mean: sum / a.length };
    };
    const twoStep = diff(small.getData(), oneStep.getData());
    assert.ok(twoStep.max <= 8 && twoStep.mean < 1, `two steps vs one: ${JSON.stringify(twoStep)}`);
    assert.deepEqual(diff(pooled.getData(), small.getData()).max, 0, 'the pool gives the same pixels');
    // The bound above means something: sampling instead of averaging is far outside it.
    const aliased = diff(sampled.getData(), oneStep.getData());
    assert.ok(aliased.max > 30, `linear vs area: ${JSON.stringify(aliased)}`);
  });

  it('crops the region of interest first', () => {
    const frame = new cv.Mat(100, 100, cv.CV_8UC1, 0);
    frame.drawRectangle(new cv.Point2(50, 50), new cv.Point2(99, 99), new cv.Vec3(255, 255, 255), -1);
    const out = new Preprocessor({ ...gray28, roi: { x: 0.5, y: 0.5, width: 0.5, height: 0.5 } }).run(frame, new Float32Array(784));
    assert.ok(out.every((v) => v === 1));
  });

  it('orders colour channels as the contract says', () => {
    const bgr = new cv.Mat(4, 4, cv.CV_8UC3, [255, 0, 0]); // pure blue in OpenCV's BGR
    const rgbOut = new Preprocessor({ ...gray28, width: 4, height: 4, channels: 3, colorOrder: 'rgb' }).run(bgr, new Float32Array(48));
    assert.deepEqual(Array.from(rgbOut.slice(0, 3)), [0, 0, 1]);
    const bgrOut = new Preprocessor({ ...gray28, width: 4, height: 4, channels: 3, colorOrder: 'bgr' }).run(bgr, new Float32Array(48));
    assert.deepEqual(Array.from(bgrOut.slice(0, 3)), [1, 0, 0]);
  });

  it('converts colour frames to grayscale for a 1-channel model', () => {
    const white = new cv.Mat(30, 40, cv.CV_8UC3, [255, 255, 255]);
    const out = new Preprocessor(gray28).run(white, new Float32Array(784));
    assert.ok(out.every((v) => Math.abs(v - 1) < 1e-6));
  });

  it('reuses its buffer and refuses a short output or an empty frame', () => {
    const p = new Preprocessor(gray28);
    assert.equal(p.run(grayMat(28, 28, 1)), p.run(grayMat(28, 28, 2)));
    assert.throws(() => p.run(grayMat(28, 28, 1), new Float32Array(10)), /needs 784/);
    assert.throws(() => p.run(new cv.Mat()), /empty frame/);
  });

  it('measures the border ring', () => {
    const pixels = new Uint8Array(64).fill(200);
    for (let y = 1; y < 7; y++) for (let x = 1; x < 7; x++) pixels[y * 8 + x] = 0;
    assert.equal(borderMean(pixels, 8, 8, 1), 200);
  });
});
