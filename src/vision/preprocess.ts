import { cv, releaseAll, type Mat } from './cv';

/**
 * The preprocessing contract: how a camera frame becomes the model's input tensor. The trainer
 * writes it into metadata.json; the daemon, `predict` and training all apply it through the
 * Preprocessor below, so training and serving cannot disagree.
 */
export interface PreprocessContract {
  width: number;
  height: number;
  channels: 1 | 3;
  /** stretch: resize the whole frame; center-crop: crop the largest centred region of the input's aspect first. */
  resizeMode: 'stretch' | 'center-crop';
  /** Channel order of a 3-channel input (OpenCV frames are BGR). */
  colorOrder: 'rgb' | 'bgr';
  /** Pixel 0 maps to range[0], pixel 255 to range[1]. */
  range: [number, number];
  /** Invert intensities; auto inverts when the image's border is brighter than mid-grey
   *  (a dark subject on light paper, for a model trained on light-on-dark). */
  invert: boolean | 'auto';
  /** stretch: map the background level to 0 and the brightest pixel to 1 before scaling to range. */
  contrast: 'none' | 'stretch';
  /** Optional region of interest, as fractions of the frame, cropped before anything else. */
  roi?: { x: number; y: number; width: number; height: number };
}

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
    const small = this.shrink(frame);
    try {
      return this.valuesOf(small, out);
    } finally {
      small.release();
    }
  }

  /**
   * The OpenCV half of the contract: region, crop, resize and channel conversion, giving an
   * 8-bit image of the model's size that the caller releases (the frame stays the caller's).
   */
  shrink(frame: Mat): Mat {
    const region = this.regionOf(frame);
    if (!this.needsResize(region)) return this.converted(region);
    const resized = this.resize(region, false);
    region.release();
    return this.converted(resized);
  }

  /** shrink() with the resize, the costly part, on the libuv thread pool. The frame must live until it settles. */
  async shrinkAsync(frame: Mat): Promise<Mat> {
    const region = this.regionOf(frame);
    if (!this.needsResize(region)) return this.converted(region);
    try {
      return this.converted(await this.resize(region, true));
    } finally {
      region.release();
    }
  }

  /** The per-pixel half of the contract, on an image from shrink(). */
  valuesOf(small: Mat, out: Float32Array = this.reusable): Float32Array {
    const c = this.contract;
    if (out.length < this.elements) throw new RangeError(`output holds ${out.length} values, needs ${this.elements}`);
    if (small.cols !== c.width || small.rows !== c.height || small.channels !== c.channels) {
      throw new RangeError(`expected a ${c.width}x${c.height}x${c.channels} image, got ${small.cols}x${small.rows}x${small.channels}`);
    }
    writeValues(small.getData(), c, out);
    return out;
  }

  /** The part of the frame the model sees: ROI, then the centre crop. A view, not a copy. */
  private regionOf(frame: Mat): Mat {
    if (frame.empty || frame.rows === 0 || frame.cols === 0) throw new RangeError('empty frame');
    const c = this.contract;
    // A new header even when nothing is cropped, so that releasing the result never frees the caller's frame.
    let region = frame.getRegion(new cv.Rect(0, 0, frame.cols, frame.rows));
    if (c.roi) {
      const x = Math.round(c.roi.x * frame.cols);
      const y = Math.round(c.roi.y * frame.rows);
      const w = Math.max(1, Math.min(frame.cols - x, Math.round(c.roi.width * frame.cols)));
      const h = Math.max(1, Math.min(frame.rows - y, Math.round(c.roi.height * frame.rows)));
      region = narrowed(region, new cv.Rect(x, y, w, h));
    }
    if (c.resizeMode === 'center-crop') {
      const target = c.width / c.height;
      const current = region.cols / region.rows;
      if (Math.abs(current - target) > 1e-3) {
        const w = current > target ? Math.round(region.rows * target) : region.cols;
        const h = current > target ? region.rows : Math.round(region.cols / target);
        region = narrowed(region, new cv.Rect((region.cols - w) >> 1, (region.rows - h) >> 1, w, h));
      }
    }
    return region;
  }

  private needsResize(region: Mat): boolean {
    return region.rows !== this.contract.height || region.cols !== this.contract.width;
  }

  /**
   * Area averaging when shrinking avoids the aliasing that makes thin strokes vanish. OpenCV
   * averages by whole factors on a fast path and by fractional ones on a slow general one
   * (640x480 to 28x28: 1.2 ms here), so a frame many times the input size is first averaged
   * by the largest whole factors that divide its sides and leave at least 4x the input, then
   * the rest of the way on the small image (0.5 ms). Box edges then fall on the blocks of the
   * first step: on the paper-digit clip values stay within 5 of 255 of the one-step result
   * (0.1 on average), on a frame of sharp lines within 7 (0.7). With `async`, the costly first
   * step runs on the thread pool.
   */
  private resize(region: Mat, async: true): Promise<Mat>;
  private resize(region: Mat, async: false): Mat;
  private resize(region: Mat, async: boolean): Mat | Promise<Mat> {
    const c = this.contract;
    const shrinking = region.rows > c.height || region.cols > c.width;
    const interpolation = shrinking ? cv.INTER_AREA : cv.INTER_LINEAR;
    const kx = shrinking ? wholeFactor(region.cols, c.width) : 1;
    const ky = shrinking ? wholeFactor(region.rows, c.height) : 1;
    if (kx < 2 || ky < 2) return async ? region.resizeAsync(c.height, c.width, 0, 0, interpolation) : region.resize(c.height, c.width, 0, 0, interpolation);
    const rows = region.rows / ky;
    const cols = region.cols / kx;
    return async ? region.resizeAsync(rows, cols, 0, 0, cv.INTER_AREA).then(this.areaToInput) : this.areaToInput(region.resize(rows, cols, 0, 0, cv.INTER_AREA));
  }

  /** The second step of resize(): averages a reduced frame to the input size and frees it (one function, not one per frame). */
  private readonly areaToInput = (reduced: Mat): Mat => {
    try {
      return reduced.resize(this.contract.height, this.contract.width, 0, 0, cv.INTER_AREA);
    } finally {
      reduced.release();
    }
  };

  /** Depth and channels as the contract says; every intermediate Mat is freed here. */
  private converted(small: Mat): Mat {
    const c = this.contract;
    const made: Mat[] = [small];
    let m = small;
    if (m.depth !== cv.CV_8U) m = keep(made, m.convertTo(cv.CV_8U));
    const ch = m.channels;
    if (c.channels === 1) {
      if (ch === 3) m = keep(made, m.cvtColor(cv.COLOR_BGR2GRAY));
      else if (ch === 4) m = keep(made, m.cvtColor(cv.COLOR_BGRA2GRAY));
    } else {
      if (ch === 1) m = keep(made, m.cvtColor(cv.COLOR_GRAY2BGR));
      else if (ch === 4) m = keep(made, m.cvtColor(cv.COLOR_BGRA2BGR));
      if (c.colorOrder === 'rgb') m = keep(made, m.cvtColor(cv.COLOR_BGR2RGB));
    }
    releaseAll(...made.filter((x) => x !== m));
    return m;
  }
}

/** The largest whole factor of `size` that leaves at least 4x `target` (1 when there is none above 1). */
export function wholeFactor(size: number, target: number): number {
  for (let k = Math.floor(size / (4 * target)); k >= 2; k--) if (size % k === 0) return k;
  return 1;
}

/** A view of part of `region`, releasing the wider view (a header left to the GC would pin the frame's pixels). */
function narrowed(region: Mat, rect: InstanceType<typeof cv.Rect>): Mat {
  const part = region.getRegion(rect);
  region.release();
  return part;
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
