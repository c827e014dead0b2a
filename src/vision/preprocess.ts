import type { PreprocessContract } from '../model/metadata';
import { cv, releaseAll, type Mat } from './cv';

/**
 * Turns an OpenCV frame into the model's input values, exactly as the package's preprocessing
 * contract says. This is the only implementation: the daemon, `predict` and training all call
 * it, so what the model saw in training is what it sees in service.
 *
 * Order: region of interest, centre crop (if asked), resize with area averaging (on the full
 * frame only once, so the work is done at the small size), channel conversion, then in one
 * pass over the few small pixels: inversion, contrast stretch and scaling to the value range.
 */
export class Preprocessor {
  readonly elements: number;
  private readonly reusable: Float32Array;

  constructor(readonly contract: PreprocessContract) {
    this.elements = contract.width * contract.height * contract.channels;
    this.reusable = new Float32Array(this.elements);
  }

  /**
   * Writes the input values into `out` (by default one buffer reused on every call, so a
   * caller that keeps the values must copy them) and returns it. `out` must hold `elements`.
   */
  run(frame: Mat, out: Float32Array = this.reusable): Float32Array {
    if (out.length < this.elements) throw new RangeError(`output holds ${out.length} values, needs ${this.elements}`);
    if (frame.empty || frame.rows === 0 || frame.cols === 0) throw new RangeError('empty frame');
    // Mats made here are freed before returning: OpenCV memory is not left for the GC to find.
    const made: Mat[] = [];
    const small = this.resized(frame, made);
    const pixels = this.converted(small, made);
    writeValues(pixels.getData(), this.contract, out);
    releaseAll(...made);
    return out;
  }

  private resized(frame: Mat, made: Mat[]): Mat {
    const c = this.contract;
    let region = frame;
    if (c.roi) {
      const x = Math.round(c.roi.x * frame.cols);
      const y = Math.round(c.roi.y * frame.rows);
      const w = Math.max(1, Math.min(frame.cols - x, Math.round(c.roi.width * frame.cols)));
      const h = Math.max(1, Math.min(frame.rows - y, Math.round(c.roi.height * frame.rows)));
      region = region.getRegion(new cv.Rect(x, y, w, h));
    }
    if (c.resizeMode === 'center-crop') {
      const target = c.width / c.height;
      const current = region.cols / region.rows;
      if (Math.abs(current - target) > 1e-3) {
        const w = current > target ? Math.round(region.rows * target) : region.cols;
        const h = current > target ? region.rows : Math.round(region.cols / target);
        region = region.getRegion(new cv.Rect((region.cols - w) >> 1, (region.rows - h) >> 1, w, h));
      }
    }
    if (region.rows === c.height && region.cols === c.width) return region;
    // Area averaging when shrinking avoids the aliasing that makes thin strokes vanish.
    const shrinking = region.rows > c.height || region.cols > c.width;
    return keep(made, region.resize(c.height, c.width, 0, 0, shrinking ? cv.INTER_AREA : cv.INTER_LINEAR));
  }

  private converted(small: Mat, made: Mat[]): Mat {
    const c = this.contract;
    let m = small;
    if (m.depth !== cv.CV_8U) m = keep(made, m.convertTo(cv.CV_8U));
    const ch = m.channels;
    if (c.channels === 1) {
      if (ch === 3) return keep(made, m.cvtColor(cv.COLOR_BGR2GRAY));
      if (ch === 4) return keep(made, m.cvtColor(cv.COLOR_BGRA2GRAY));
      return m;
    }
    if (ch === 1) m = keep(made, m.cvtColor(cv.COLOR_GRAY2BGR));
    else if (ch === 4) m = keep(made, m.cvtColor(cv.COLOR_BGRA2BGR));
    return c.colorOrder === 'rgb' ? keep(made, m.cvtColor(cv.COLOR_BGR2RGB)) : m;
  }
}

function keep(made: Mat[], m: Mat): Mat {
  made.push(m);
  return m;
}

/**
 * The per-pixel part of the contract on 8-bit interleaved pixels (height x width x channels).
 * Exported for tests and for training code that already holds raw pixels.
 */
export function writeValues(pixels: Uint8Array, c: PreprocessContract, out: Float32Array): void {
  const n = c.width * c.height * c.channels;
  const border = borderMean(pixels, c.width, c.height, c.channels);
  const invert = c.invert === 'auto' ? border > 127.5 : c.invert;
  // Background level and brightest value after inversion, for the contrast stretch.
  let low = 0;
  let high = 255;
  if (c.contrast === 'stretch') {
    low = invert ? 255 - border : border;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const v = invert ? 255 - pixels[i] : pixels[i];
      if (v > max) max = v;
    }
    high = max;
    // A flat image (nothing brighter than the background) stays flat instead of amplifying noise.
    if (high - low < 24) { low = 0; high = 255; }
  }
  const [r0, r1] = c.range;
  const scale = (r1 - r0) / (high - low);
  for (let i = 0; i < n; i++) {
    let v = invert ? 255 - pixels[i] : pixels[i];
    if (v < low) v = low;
    else if (v > high) v = high;
    out[i] = r0 + (v - low) * scale;
  }
}

/** Mean intensity of the outer ring (1/8 of each side, at least one pixel) of an interleaved image. */
export function borderMean(pixels: Uint8Array, width: number, height: number, channels: number): number {
  const bw = Math.max(1, Math.floor(width / 8));
  const bh = Math.max(1, Math.floor(height / 8));
  let sum = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    const edgeRow = y < bh || y >= height - bh;
    for (let x = 0; x < width; x++) {
      if (!edgeRow && x >= bw && x < width - bw) {
        x = width - bw - 1;
        continue;
      }
      const base = (y * width + x) * channels;
      for (let k = 0; k < channels; k++) sum += pixels[base + k];
      count += channels;
    }
  }
  return count === 0 ? 0 : sum / count;
}
