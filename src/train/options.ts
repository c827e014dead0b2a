import * as fs from 'node:fs';
import { TFJS_BACKEND_PREFERENCES } from '../config/backend-preference';
import { UsageError } from '../util/errors';
import type { AugmentOptions } from './augment';
import { ARCHITECTURES, type Architecture } from './architectures';
import { DEFAULT_PYTHON } from './torch/engine';
import { OPTIMIZERS, type OptimizerName } from './training-steps';

/** Everything `edgesight train` can be told, by flag or in a --config JSON file (same names). */
export interface TrainingSpec {
  data: string;
  out: string;
  validationSplit: number;
  seed: number;
  width: number;
  height: number;
  color: 'rgb' | 'grayscale';
  classMode: 'categorical' | 'binary';
  resizeMode: 'stretch' | 'center-crop';
  architecture: Architecture;
  alpha: number;
  optimizer: OptimizerName;
  learningRate: number;
  batchSize: number;
  epochs: number;
  patience: number;
  lrPatience: number;
  lrFactor: number;
  minLearningRate: number;
  augmentation: AugmentOptions;
  backend: 'auto' | 'tfjs-node' | 'wasm' | 'cpu';
  /** What runs the training steps of a network trained from scratch (torch/engine.ts); auto: PyTorch when it starts, else TF.js. */
  engine: TrainingEngine;
  /** The Python interpreter the PyTorch engine runs in. */
  python: string;
  name: string;
  /** Transfer learning: a head trained on a frozen base's embeddings (transfer.ts). */
  transfer?: TransferSpec;
}

export interface TransferSpec {
  /** A model package, Teachable Machine export or Keras file whose layers up to `layer` extract features. */
  base: string;
  /** The cut; undefined: the default rule of base-model.ts. */
  layer?: string;
  headUnits: number;
  /** Embeddings per training image when augmenting: the image itself and views - 1 augmented views. */
  augmentViews: number;
  /** Layers of the base to unfreeze after the head is trained (0: none), for how many epochs, at what rate. */
  fineTuneLayers: number;
  fineTuneEpochs: number;
  fineTuneLearningRate: number;
}

export const TRAINING_ENGINES = ['auto', 'torch', 'tfjs'] as const;
export type TrainingEngine = (typeof TRAINING_ENGINES)[number];

/** Options that describe the input or the network, which a base model decides by itself. */
const DECIDED_BY_BASE = ['size', 'color', 'resize-mode', 'architecture', 'alpha'];
const TRANSFER_ONLY = ['base-layer', 'head-units', 'augment-views', 'fine-tune', 'fine-tune-epochs', 'fine-tune-learning-rate'];

/** The command line options, by their ImageDataGenerator / Keras names where those exist. */
export const TRAIN_FLAGS = {
  data: { type: 'string' },
  out: { type: 'string' },
  config: { type: 'string' },
  'validation-split': { type: 'string' },
  seed: { type: 'string' },
  size: { type: 'string' },
  color: { type: 'string' },
  'class-mode': { type: 'string' },
  'resize-mode': { type: 'string' },
  architecture: { type: 'string' },
  alpha: { type: 'string' },
  optimizer: { type: 'string' },
  'learning-rate': { type: 'string' },
  'batch-size': { type: 'string' },
  epochs: { type: 'string' },
  patience: { type: 'string' },
  'lr-patience': { type: 'string' },
  'lr-factor': { type: 'string' },
  'min-lr': { type: 'string' },
  'rotation-range': { type: 'string' },
  'width-shift-range': { type: 'string' },
  'height-shift-range': { type: 'string' },
  'shear-range': { type: 'string' },
  'zoom-range': { type: 'string' },
  'horizontal-flip': { type: 'boolean' },
  'brightness-range': { type: 'string' },
  'fill-mode': { type: 'string' },
  cval: { type: 'string' },
  backend: { type: 'string' },
  engine: { type: 'string' },
  python: { type: 'string' },
  name: { type: 'string' },
  base: { type: 'string' },
  'base-layer': { type: 'string' },
  'head-units': { type: 'string' },
  'augment-views': { type: 'string' },
  'fine-tune': { type: 'string' },
  'fine-tune-epochs': { type: 'string' },
  'fine-tune-learning-rate': { type: 'string' },
} as const;

type Raw = Record<string, string | boolean | number | number[] | undefined>;

/**
 * Resolves the spec: defaults, then the --config file, then flags. Every value is checked and
 * a mistake names the option and the value.
 */
export function trainingSpec(flags: Raw): TrainingSpec {
  let raw: Raw = {};
  if (typeof flags.config === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(flags.config, 'utf8'));
    } catch (err) {
      throw new UsageError(`train: --config ${flags.config}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`train: --config ${flags.config}: must hold a JSON object of option names`);
    for (const key of Object.keys(parsed)) if (!(key in TRAIN_FLAGS) || key === 'config') throw new UsageError(`train: --config ${flags.config}: unknown option '${key}'`);
    raw = parsed as Raw;
  }
  for (const [k, v] of Object.entries(flags)) if (v !== undefined && k !== 'config') raw[k] = v;

  const str = (key: string, fallback: string) => (raw[key] === undefined ? fallback : String(raw[key]));
  const num = (key: string, fallback: number, min: number, max: number, integer = false) => {
    const text = raw[key];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new UsageError(`train: --${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got '${text}'`);
    }
    return value;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const value = str(key, fallback);
    if (!allowed.includes(value as T)) throw new UsageError(`train: --${key} must be one of ${allowed.join(', ')}, got '${value}'`);
    return value as T;
  };
  const pair = (key: string, fallback: [number, number] | undefined, single: (r: number) => [number, number]): [number, number] | undefined => {
    const text = raw[key];
    if (text === undefined) return fallback;
    const parts = Array.isArray(text) ? text.map(Number) : String(text).split(',').map((s) => Number(s.trim()));
    if (parts.length === 1 && Number.isFinite(parts[0]) && parts[0] >= 0) return single(parts[0]);
    if (parts.length === 2 && parts.every(Number.isFinite) && parts[0] > 0 && parts[0] <= parts[1]) return [parts[0], parts[1]];
    throw new UsageError(`train: --${key} must be one number or 'low,high' with 0 < low <= high, got '${text}'`);
  };

  const data = str('data', '');
  const out = str('out', '');
  if (!data) throw new UsageError('train: --data DIR is required (a folder with one sub-folder of images per class)');
  if (!out) throw new UsageError('train: --out DIR is required (where the model package is written)');
  const size = str('size', '96x96');
  const sizeMatch = /^(\d+)x(\d+)$/.exec(size);
  if (!sizeMatch || Number(sizeMatch[1]) < 8 || Number(sizeMatch[2]) < 8 || Number(sizeMatch[1]) > 1024 || Number(sizeMatch[2]) > 1024) throw new UsageError(`train: --size must be WxH from 8x8 to 1024x1024, got '${size}'`);
  const rotation = num('rotation-range', 0, 0, 180);
  const base = raw.base === undefined ? undefined : String(raw.base);
  if (base === '') throw new UsageError('train: --base needs a model (a TF.js layers package, a Teachable Machine export or a Keras file)');
  if (base !== undefined) {
    const clash = DECIDED_BY_BASE.find((k) => raw[k] !== undefined);
    if (clash) throw new UsageError(`train: --${clash} cannot be used with --base: the base model decides its input and network (its preprocessing contract is kept)`);
    if (raw.engine === 'torch') throw new UsageError('train: --engine torch trains networks from scratch; transfer learning (--base) runs on TF.js');
  } else {
    const orphan = TRANSFER_ONLY.find((k) => raw[k] !== undefined);
    if (orphan) throw new UsageError(`train: --${orphan} needs --base MODEL (transfer learning)`);
  }
  const learningRate = num('learning-rate', 1e-3, 1e-7, 10);
  const transfer: TransferSpec | undefined = base === undefined ? undefined : {
    base,
    layer: raw['base-layer'] === undefined ? undefined : String(raw['base-layer']),
    headUnits: num('head-units', 128, 1, 8192, true),
    augmentViews: num('augment-views', 5, 1, 100, true),
    fineTuneLayers: num('fine-tune', 0, 0, 10_000, true),
    fineTuneEpochs: num('fine-tune-epochs', 5, 1, 10_000, true),
    fineTuneLearningRate: num('fine-tune-learning-rate', learningRate / 10, 1e-8, 10),
  };
  return {
    data,
    out,
    validationSplit: num('validation-split', 0.2, 0, 0.9),
    seed: num('seed', 1, 0, 2 ** 31, true),
    width: Number(sizeMatch[1]),
    height: Number(sizeMatch[2]),
    color: oneOf('color', ['rgb', 'grayscale'] as const, 'rgb'),
    classMode: oneOf('class-mode', ['categorical', 'binary'] as const, 'categorical'),
    resizeMode: oneOf('resize-mode', ['stretch', 'center-crop'] as const, 'stretch'),
    architecture: oneOf('architecture', ARCHITECTURES, defaultArchitecture(Number(sizeMatch[1]), Number(sizeMatch[2]))),
    alpha: num('alpha', 0.5, 0.1, 2),
    optimizer: oneOf('optimizer', OPTIMIZERS, 'adam'),
    learningRate,
    batchSize: num('batch-size', 32, 1, 4096, true),
    epochs: num('epochs', 20, 1, 10_000, true),
    patience: num('patience', 5, 0, 10_000, true),
    lrPatience: num('lr-patience', 3, 0, 10_000, true),
    lrFactor: num('lr-factor', 0.5, 0.01, 0.99),
    minLearningRate: num('min-lr', 1e-6, 0, 10),
    augmentation: {
      rotationRange: rotation,
      widthShiftRange: num('width-shift-range', 0, 0, 1),
      heightShiftRange: num('height-shift-range', 0, 0, 1),
      shearRange: num('shear-range', 0, 0, 89),
      // Keras: a single zoom_range r means [1 - r, 1 + r].
      zoomRange: pair('zoom-range', [1, 1], (r) => [Math.max(0.01, 1 - r), 1 + r])!,
      horizontalFlip: raw['horizontal-flip'] === true || raw['horizontal-flip'] === 'true',
      brightnessRange: pair('brightness-range', undefined, (r) => [Math.max(0.01, 1 - r), 1 + r]),
      fillMode: oneOf('fill-mode', ['nearest', 'constant', 'reflect', 'wrap'] as const, 'nearest'),
      cval: num('cval', 0, 0, 255),
    },
    backend: oneOf('backend', TFJS_BACKEND_PREFERENCES, 'auto'),
    engine: oneOf('engine', TRAINING_ENGINES, 'auto'),
    python: str('python', DEFAULT_PYTHON),
    name: str('name', ''),
    transfer,
  };
}

/** Inputs from this size up train `compact-s2` by default, smaller ones `compact`. */
export const STRIDED_STEM_FROM = 64;

/**
 * The architecture when none is asked for. From 64x64 up, `compact-s2` (a stride-2 first
 * convolution): at 96x96 it trains about 3x the samples/s of `compact` on one core and reached the
 * same or better held-out accuracy in as many epochs (docs/training-speed.md). Below that a
 * halved stem leaves too few pixels for three pooling blocks (28x28 would end at 1x1), so
 * `compact` stays.
 */
export function defaultArchitecture(width: number, height: number): Architecture {
  return width >= STRIDED_STEM_FROM && height >= STRIDED_STEM_FROM ? 'compact-s2' : 'compact';
}

/** True when the spec asks for any augmentation at all. */
export function augments(a: AugmentOptions): boolean {
  return a.rotationRange > 0 || a.widthShiftRange > 0 || a.heightShiftRange > 0 || a.shearRange > 0 || a.zoomRange[0] !== 1 || a.zoomRange[1] !== 1 || a.horizontalFlip || !!a.brightnessRange;
}
