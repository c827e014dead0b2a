import { cv, type Mat } from '../vision/cv';

/**
 * Image augmentation with the options and meanings of Keras' ImageDataGenerator, applied to
 * 8-bit OpenCV images: one random affine warp per image (rotation, shift, shear, zoom about
 * the centre), optional horizontal flip and brightness scaling.
 */
export interface AugmentOptions {
  /** Degrees; the angle is drawn from [-r, r]. */
  rotationRange: number;
  /** Fractions of width / height; shifts drawn from [-r, r]. */
  widthShiftRange: number;
  heightShiftRange: number;
  /** Shear angle in degrees, drawn from [-r, r]. */
  shearRange: number;
  /** Scale of the content, drawn from [min, max] (1 keeps the size; below 1 shrinks it). */
  zoomRange: [number, number];
  horizontalFlip: boolean;
  /** Multiplier of pixel values drawn from [min, max]; undefined leaves brightness alone. */
  brightnessRange?: [number, number];
  fillMode: 'constant' | 'nearest' | 'reflect' | 'wrap';
  /** Fill value for fillMode constant. */
  cval: number;
}

export const NO_AUGMENTATION: AugmentOptions = {
  rotationRange: 0,
  widthShiftRange: 0,
  heightShiftRange: 0,
  shearRange: 0,
  zoomRange: [1, 1],
  horizontalFlip: false,
  fillMode: 'constant',
  cval: 0,
};

const BORDER: Record<AugmentOptions['fillMode'], () => number> = {
  constant: () => cv.BORDER_CONSTANT,
  nearest: () => cv.BORDER_REPLICATE,
  reflect: () => cv.BORDER_REFLECT,
  wrap: () => cv.BORDER_WRAP,
};

export function augment(image: Mat, o: AugmentOptions, random: () => number): Mat {
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
  const w = image.cols;
  const h = image.rows;
  const angle = (uniform(-o.rotationRange, o.rotationRange) * Math.PI) / 180;
  const shear = (uniform(-o.shearRange, o.shearRange) * Math.PI) / 180;
  const zoom = uniform(o.zoomRange[0], o.zoomRange[1]);
  const tx = uniform(-o.widthShiftRange, o.widthShiftRange) * w;
  const ty = uniform(-o.heightShiftRange, o.heightShiftRange) * h;
  const flip = o.horizontalFlip && random() < 0.5 ? -1 : 1;

  // A = R(angle) * Shear * Z * Flip about the image centre, then the shift.
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const a = zoom * flip * cos;
  const b = zoom * (-sin + cos * Math.tan(shear));
  const c = zoom * flip * sin;
  const d = zoom * (cos + sin * Math.tan(shear));
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const m = new cv.Mat([[a, b, cx - a * cx - b * cy + tx], [c, d, cy - c * cx - d * cy + ty]], cv.CV_64F);
  const fill = new cv.Vec3(o.cval, o.cval, o.cval);
  const warped = image.warpAffine(m, new cv.Size(w, h), cv.INTER_LINEAR, BORDER[o.fillMode](), fill);
  m.release();
  if (!o.brightnessRange) return warped;
  const brightened = warped.convertTo(warped.type, uniform(o.brightnessRange[0], o.brightnessRange[1]));
  warped.release();
  return brightened;
}
