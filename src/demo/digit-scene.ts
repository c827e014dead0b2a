import { cv, matFromPixels, releaseAll, type Mat } from '../vision/cv';

export interface PaperDigitPose {
  /** Height of the digit's ink as a fraction of the frame height (0.4-0.55 is a digit held up to a webcam). */
  inkHeight: number;
  /** Rotation in degrees, counter-clockwise. */
  angle: number;
  /** Offset of the ink's centre from the frame centre, as fractions of width and height. */
  dx: number;
  dy: number;
}

/**
 * Draws a 28x28 MNIST-style digit (light on black) as dark ink on a sheet of light paper,
 * the scene a user first shows a webcam. Used by the demo source and to make test clips, so
 * both exercise the same path from camera-like frames to the model.
 */
export class PaperDigitScene {
  private readonly paper: Mat;

  constructor(readonly width: number, readonly height: number) {
    this.paper = makePaper(width, height);
  }

  render(digit: Uint8Array, pose: PaperDigitPose): Mat {
    const box = inkBox(digit);
    const scale = (pose.inkHeight * this.height) / box.height;
    const inkCx = box.x + box.width / 2;
    const inkCy = box.y + box.height / 2;
    // Rotate and scale about the ink's centre, then move that centre to its place in the frame.
    const m = cv.getRotationMatrix2D(new cv.Point2(inkCx, inkCy), pose.angle, scale);
    const data = m.getDataAsArray() as number[][];
    data[0][2] += this.width / 2 + pose.dx * this.width - inkCx;
    data[1][2] += this.height / 2 + pose.dy * this.height - inkCy;
    const transform = new cv.Mat(data, cv.CV_64F);
    const source = matFromPixels(digit, 28, 28);
    const ink = source.warpAffine(transform, new cv.Size(this.width, this.height), cv.INTER_CUBIC, cv.BORDER_CONSTANT, new cv.Vec3(0, 0, 0));
    // Ink darkens the paper: subtract 3/4 of the ink intensity from every channel.
    const faded = ink.convertTo(cv.CV_8U, 0.75);
    const ink3 = faded.cvtColor(cv.COLOR_GRAY2BGR);
    const frame = this.paper.sub(ink3);
    releaseAll(m, transform, source, ink, faded, ink3);
    return frame;
  }
}

/** Off-white paper with a gentle lighting gradient, as under a desk lamp. */
function makePaper(width: number, height: number): Mat {
  const rows: number[][][] = [];
  for (let y = 0; y < height; y++) {
    const row: number[][] = [];
    for (let x = 0; x < width; x++) {
      const light = 1 - 0.12 * Math.hypot((x - width * 0.35) / width, (y - height * 0.3) / height);
      row.push([Math.round(205 * light), Math.round(220 * light), Math.round(228 * light)]);
    }
    rows.push(row);
  }
  return new cv.Mat(rows, cv.CV_8UC3);
}

/** Bounding box of the pixels brighter than a faint threshold in a 28x28 digit. */
export function inkBox(digit: Uint8Array): { x: number; y: number; width: number; height: number } {
  let x0 = 28, y0 = 28, x1 = -1, y1 = -1;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      if (digit[y * 28 + x] > 40) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return { x: 0, y: 0, width: 28, height: 28 };
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}
