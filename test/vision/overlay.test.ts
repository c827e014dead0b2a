import { strict as assert } from 'node:assert';
import type { Decision } from '../../src/pipeline/decision';
import { cv } from '../../src/vision/cv';
import { encodeJpeg } from '../../src/vision/encoder';
import { drawOverlay } from '../../src/vision/overlay';

const decision = (uncertain: boolean): Decision => ({
  label: uncertain ? 'uncertain' : '7',
  index: uncertain ? -1 : 7,
  confidence: 0.83,
  uncertain,
  topk: [
    { label: '7', index: 7, confidence: 0.83 },
    { label: '1', index: 1, confidence: 0.1 },
    { label: '9', index: 9, confidence: 0.04 },
  ],
  frameTop: { label: '7', index: 7, confidence: 0.83 },
});

function greenPixels(m: import('@u4/opencv4nodejs').Mat, x0: number, y0: number, x1: number, y1: number): number {
  const hsv = m.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0)).cvtColor(cv.COLOR_BGR2HSV);
  return hsv.inRange(new cv.Vec3(45, 120, 120), new cv.Vec3(75, 255, 255)).countNonZero();
}

describe('drawOverlay', () => {
  for (const [w, h] of [[640, 480], [1280, 720]]) {
    it(`draws label, top-k bars and speed at ${w}x${h}, scaled to the frame`, () => {
      const frame = new cv.Mat(h, w, cv.CV_8UC3, [230, 230, 230]);
      drawOverlay(frame, { decision: decision(false), fps: 14.9, inferMs: 1.2 });
      const s = h / 480;
      // The panel at the top left is darkened and holds green text and the first (green) bar.
      const panel = frame.getRegion(new cv.Rect(Math.round(12 * s), Math.round(12 * s), Math.round(280 * s), Math.round(40 * s)));
      assert.ok(panel.cvtColor(cv.COLOR_BGR2GRAY).mean().w < 180, 'panel darkened');
      assert.ok(greenPixels(frame, 0, 0, Math.round(320 * s), Math.round(130 * s)) > 300 * s * s, 'green label and bar');
      // The speed line at the bottom left has white text on a dark strip.
      const strip = frame.getRegion(new cv.Rect(Math.round(12 * s), h - Math.round(38 * s), Math.round(200 * s), Math.round(26 * s))).cvtColor(cv.COLOR_BGR2GRAY);
      assert.ok(strip.minMaxLoc().maxVal > 200 && strip.minMaxLoc().minVal < 100, 'white text on dark');
      // The middle of the frame, where the subject is, is untouched.
      assert.deepEqual(frame.at(h / 2, w / 2), frame.at(h - 1, w - 1));
    });
  }

  it('draws an uncertain decision without the green of a confident one', () => {
    const frame = new cv.Mat(480, 640, cv.CV_8UC3, [230, 230, 230]);
    drawOverlay(frame, { decision: decision(true), fps: 3, inferMs: 20 });
    assert.ok(greenPixels(frame, 0, 0, 320, 60) < 20);
    // ... and yet a panel was drawn there (the light frame darkened behind the label).
    assert.ok(frame.getRegion(new cv.Rect(12, 12, 280, 40)).cvtColor(cv.COLOR_BGR2GRAY).mean().w < 180, 'no panel drawn');
  });

  it('encodes the annotated frame as a JPEG that decodes to the same size', async () => {
    const frame = new cv.Mat(480, 640, cv.CV_8UC3, [10, 120, 200]);
    drawOverlay(frame, { decision: decision(false), fps: 10, inferMs: 2 });
    const jpeg = await encodeJpeg(frame, 80);
    assert.equal(jpeg[0], 0xff);
    assert.equal(jpeg[1], 0xd8);
    const back = cv.imdecode(jpeg);
    assert.deepEqual([back.cols, back.rows], [640, 480]);
  });
});
