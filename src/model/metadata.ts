import { ModelPackageError } from '../util/errors';
import type { PreprocessContract } from '../vision/preprocess';


export interface ModelMetadata {
  name: string;
  version: string;
  labels: string[];
  preprocess: PreprocessContract;
  outputActivation: 'softmax' | 'sigmoid' | 'none';
  /** Where the package follows Teachable Machine's conventions because its metadata was silent. */
  conventions: 'edgesight' | 'teachable-machine';
  /** Everything else the trainer recorded (report, dataset counts, history), passed through. */
  extra: Record<string, unknown>;
}

/** Input shape read from model.json, used where metadata.json leaves size or channels out. */
export interface ModelInputShape {
  height: number;
  width: number;
  channels: number;
}

/**
 * Reads metadata.json (already parsed) against the model's input shape and output units.
 * A Teachable Machine export carries only labels (and a tmVersion); absent fields take its
 * conventions: centre crop, RGB, x/127.5-1, size and channels from model.json.
 */
export function parseMetadata(raw: unknown, file: string, input: ModelInputShape, outputUnits: number): ModelMetadata {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelPackageError(file, 'must hold a JSON object');
  const m = raw as Record<string, unknown>;
  const isTeachable = typeof m.tmVersion === 'string' || (typeof m.tfjsVersion === 'string' && m.preprocess === undefined);

  const labels = m.labels;
  if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === 'string')) {
    throw new ModelPackageError(file, "field 'labels' must be a non-empty array of strings");
  }
  const expectedLabels = outputUnits === 1 ? 2 : outputUnits;
  if (labels.length !== expectedLabels) {
    throw new ModelPackageError(file, `has ${labels.length} labels but the model has ${outputUnits} output unit${outputUnits === 1 ? '' : 's'} (expected ${expectedLabels} labels)`);
  }

  if (input.channels !== 1 && input.channels !== 3) {
    throw new ModelPackageError(file, `input has ${input.channels} channels; only 1 (grayscale) or 3 (colour) are supported`);
  }
  const p = (m.preprocess ?? {}) as Record<string, unknown>;
  const contract: PreprocessContract = {
    width: positiveInt(p.width ?? input.width, file, 'preprocess.width'),
    height: positiveInt(p.height ?? input.height, file, 'preprocess.height'),
    channels: input.channels,
    resizeMode: oneOf(p.resizeMode ?? (isTeachable ? 'center-crop' : 'stretch'), ['stretch', 'center-crop'] as const, file, 'preprocess.resizeMode'),
    colorOrder: oneOf(p.colorOrder ?? 'rgb', ['rgb', 'bgr'] as const, file, 'preprocess.colorOrder'),
    range: rangeOf(p.range ?? (isTeachable ? [-1, 1] : [0, 1]), file),
    invert: p.invert === 'auto' ? 'auto' : booleanOf(p.invert ?? false, file, 'preprocess.invert'),
    contrast: oneOf(p.contrast ?? 'none', ['none', 'stretch'] as const, file, 'preprocess.contrast'),
    roi: p.roi === undefined ? undefined : roiOf(p.roi, file),
  };
  if (contract.width !== input.width || contract.height !== input.height) {
    throw new ModelPackageError(file, `preprocess size ${contract.width}x${contract.height} does not match the model input ${input.width}x${input.height}`);
  }
  const activation = oneOf(m.outputActivation ?? (outputUnits === 1 ? 'sigmoid' : 'softmax'), ['softmax', 'sigmoid', 'none'] as const, file, 'outputActivation');

  const known = new Set(['name', 'modelName', 'version', 'labels', 'preprocess', 'outputActivation']);
  const extra = Object.fromEntries(Object.entries(m).filter(([k]) => !known.has(k)));
  return {
    name: typeof m.name === 'string' ? m.name : typeof m.modelName === 'string' ? m.modelName : 'unnamed',
    version: typeof m.version === 'string' ? m.version : typeof m.timeStamp === 'string' ? m.timeStamp : 'unversioned',
    labels: labels as string[],
    preprocess: contract,
    outputActivation: activation,
    conventions: isTeachable ? 'teachable-machine' : 'edgesight',
    extra,
  };
}

function positiveInt(v: unknown, file: string, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 4096) throw new ModelPackageError(file, `field '${field}' must be an integer from 1 to 4096, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<const V extends string>(v: unknown, values: readonly V[], file: string, field: string): V {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new ModelPackageError(file, `field '${field}' must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as V;
}

function booleanOf(v: unknown, file: string, field: string): boolean {
  if (typeof v !== 'boolean') throw new ModelPackageError(file, `field '${field}' must be true, false or "auto", got ${JSON.stringify(v)}`);
  return v;
}

function rangeOf(v: unknown, file: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)) || v[0] === v[1]) {
    throw new ModelPackageError(file, `field 'preprocess.range' must be two different numbers like [0, 1] or [-1, 1], got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

function roiOf(v: unknown, file: string): PreprocessContract['roi'] {
  const r = v as Record<string, unknown>;
  const nums = ['x', 'y', 'width', 'height'].map((k) => r?.[k]);
  if (!nums.every((x) => typeof x === 'number' && x >= 0 && x <= 1)) {
    throw new ModelPackageError(file, "field 'preprocess.roi' must be {x, y, width, height} as fractions from 0 to 1");
  }
  const [x, y, width, height] = nums as number[];
  if (width <= 0 || height <= 0 || x + width > 1 + 1e-9 || y + height > 1 + 1e-9) {
    throw new ModelPackageError(file, "field 'preprocess.roi' must have a positive size and lie inside the frame");
  }
  return { x, y, width, height };
}
