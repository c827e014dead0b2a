/**
 * The one place that loads the OpenCV binding, so a missing build gives one clear message
 * (run scripts/setup.sh) instead of a stack trace from deep inside a module.
 */
import type * as CvTypes from '@u4/opencv4nodejs';
import { MAX_IMAGE_PIXELS } from './image-header';

type Cv = typeof CvTypes.default;

let loaded: Cv | undefined;

function load(): Cv {
  if (loaded) return loaded;
  // The binding reports every Mat allocation to V8 as external memory. OpenCV allocates inside
  // its own worker threads (parallel_for_ in warpAffine, resize, ...), and that report then
  // aborts the process ("Check failed: marking_done_", seen in training here). Without it the
  // GC does not see Mat memory, so per-frame Mats are released explicitly (see releaseAll).
  process.env.OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING ??= '1';
  // OpenCV prints its own warnings for every failed open (a camera unplugged, a file gone) on
  // stderr, around our structured log; edgesight reports those failures itself.
  process.env.OPENCV_LOG_LEVEL ??= 'FATAL';
  // OpenCV's own ceiling on a decoded image (default 2^30 pixels, 3 GB as BGR): the same limit
  // as the header check in image-header.ts, for formats that check does not read.
  process.env.OPENCV_IO_MAX_IMAGE_PIXELS ??= String(MAX_IMAGE_PIXELS);
  try {
    quietBuildLogger();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('@u4/opencv4nodejs');
    loaded = (mod.default ?? mod) as Cv;
    return loaded;
  } catch (err) {
    throw new Error(`the OpenCV binding (@u4/opencv4nodejs) is not built: run scripts/setup.sh (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * The binding's loader constructs its build helper on every load, and that helper prints
 * "Info: ..." lines to stdout, which would corrupt `predict --json`. Its logger has a global
 * off switch; set it before the binding loads.
 */
function quietBuildLogger(): void {
  try {
    const bindingDir = require('node:path').dirname(require.resolve('@u4/opencv4nodejs'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const build = require(require.resolve('@u4/opencv-build', { paths: [bindingDir] })) as { Log?: { silence: boolean } };
    if (build.Log) build.Log.silence = true;
  } catch {
    // Without the helper there is nothing to silence.
  }
}

/** Lazily loaded OpenCV: `cv.Mat`, `cv.imread`, ... as in @u4/opencv4nodejs. */
export const cv: Cv = new Proxy({} as Cv, {
  get: (_target, prop) => (load() as unknown as Record<string | symbol, unknown>)[prop],
});

export type Mat = CvTypes.Mat;

/**
 * A Mat holding its own copy of `pixels` (rows x cols x channels bytes). A Mat made straight
 * over a Buffer neither checks its length (a short one crashes the process) nor keeps it
 * alive (the GC can free it under the Mat), so every Mat built from JS bytes goes through here.
 */
export function matFromPixels(pixels: Uint8Array, rows: number, cols: number, channels: 1 | 3 | 4 = 1): Mat {
  const expected = rows * cols * channels;
  if (pixels.length !== expected) throw new RangeError(`pixel buffer holds ${pixels.length} bytes, a ${cols}x${rows}x${channels} image needs ${expected}`);
  const type = channels === 1 ? cv.CV_8UC1 : channels === 3 ? cv.CV_8UC3 : cv.CV_8UC4;
  const view = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return new cv.Mat(view, rows, cols, type).copy();
}

/** Frees the pixel memory of Mats now instead of whenever the GC gets to their wrappers. */
export function releaseAll(...mats: Array<Mat | undefined>): void {
  for (const m of mats) m?.release();
}
