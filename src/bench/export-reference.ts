import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { PreprocessContract } from '../vision/preprocess';
import { tfjsModelOf, type LoadedModel } from '../model/model-package';
import { probeInputs } from '../model/engine/probe-check';
import { TfjsEngine } from '../model/engine/tfjs-engine';
import { isNestedModel, walkLayers } from '../model/layer-graph';

/**
 * The benchmark's reference loop (bench/reference/, PyTorch) must run the same network with the
 * same weights as edgesight. This writes a loaded model as a plain layer graph plus one float32
 * blob that bench/reference/net.py builds into torch modules:
 *   topology.json  layers in evaluation order (nested models flattened), settings resolved to
 *                  what a translation needs (TF's 'same' padding as explicit pads), each weight
 *                  as {offset, shape} into weights.bin, in its Keras layout (kernels HWIO, Dense
 *                  [in, out]): the Python side permutes, so the file is the model as TF.js has it;
 *   weights.bin    the weights, float32 little-endian;
 *   probes.bin     probe inputs (NHWC) then TF.js's outputs for each, for the check before timing.
 */
export const REFERENCE_FORMAT = 'edgesight-reference-1';
export const TOPOLOGY_JSON = 'topology.json';
export const WEIGHTS_BIN = 'weights.bin';
export const PROBES_BIN = 'probes.bin';

export interface ExportedWeight {
  /** In float32 elements from the start of weights.bin. */
  offset: number;
  shape: number[];
}

export interface ExportedLayer {
  /** Unique name of this layer's output value. */
  name: string;
  /** The Keras class name (Conv2D, Dense, ...). */
  op: string;
  inputs: string[];
  /** The Keras output shape, batch first (NHWC for images). */
  shape: (number | null)[];
  config: Record<string, unknown>;
  weights: Record<string, ExportedWeight>;
}

export interface ExportedTopology {
  format: typeof REFERENCE_FORMAT;
  name: string;
  input: { name: string; shape: [number, number, number] };
  output: string;
  layers: ExportedLayer[];
  labels: string[];
  preprocess: PreprocessContract;
  /** probes.bin: `count` inputs of `inputElements` values, then `count` outputs of `outputUnits`. */
  probes: { count: number; inputElements: number; outputUnits: number };
}

/** A layer (or a setting of one) the reference cannot rebuild: named, so the row says why it has no reference. */
export class ExportError extends Error {}

/** Layers that compute nothing at inference: their output is their input. */
const IDENTITY = new Set(['InputLayer', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'RandomFlip', 'RandomRotation', 'RandomZoom', 'RandomTranslation', 'RandomContrast', 'RandomBrightness', 'RandomHeight', 'RandomWidth', 'RandomCrop']);
const ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign', 'swish', 'hardSigmoid', 'softmax']);

type Config = Record<string, unknown>;
interface Value {
  name: string;
  shape: (number | null)[];
}

/** Writes `loaded` (a TF.js layers model) into `dir` as described above; returns the topology. */
export function exportReferenceModel(loaded: LoadedModel, dir: string): ExportedTopology {
  const model = tfjsModelOf(loaded);
  if (loaded.format !== 'layers-model' || !('layers' in model)) throw new ExportError(`${loaded.dir}: only TF.js layers models are exported (this is ${loaded.format})`);
  const layersModel = model as tf.LayersModel;
  if (layersModel.inputs.length !== 1 || layersModel.outputs.length !== 1) throw new ExportError(`${loaded.dir}: ${layersModel.inputs.length} inputs and ${layersModel.outputs.length} outputs; one of each is exported`);
  const writer = new Exporter();
  const input: Value = { name: 'input', shape: layersModel.inputs[0].shape };
  const [out] = writer.container(layersModel, [input]);
  const [h, w, c] = loaded.inputShape;
  const inputElements = h * w * c;
  const probes = probeInputs(inputElements, loaded.metadata.preprocess.range);
  const engine = new TfjsEngine(layersModel, loaded.inputShape, loaded.outputUnits);
  const outputs = probes.map((p) => engine.run(p, 1).slice());
  const topology: ExportedTopology = {
    format: REFERENCE_FORMAT,
    name: loaded.metadata.name,
    input: { name: input.name, shape: [h, w, c] },
    output: out.name,
    layers: writer.layers,
    labels: loaded.metadata.labels,
    preprocess: loaded.metadata.preprocess,
    probes: { count: probes.length, inputElements, outputUnits: loaded.outputUnits },
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, TOPOLOGY_JSON), JSON.stringify(topology, null, 1) + '\n');
  fs.writeFileSync(path.join(dir, WEIGHTS_BIN), writer.blob());
  fs.writeFileSync(path.join(dir, PROBES_BIN), floatBytes([...probes, ...outputs]));
  return topology;
}

/** Reads an exported weight back (for tests and checks): the float32 values of `w` in weights.bin. */
export function readExportedWeight(dir: string, w: ExportedWeight): Float32Array {
  const bytes = fs.readFileSync(path.join(dir, WEIGHTS_BIN));
  const count = w.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  Buffer.from(values.buffer).set(bytes.subarray(w.offset * 4, (w.offset + count) * 4));
  return values;
}

function floatBytes(arrays: Float32Array[]): Buffer {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const all = new Float32Array(total);
  let at = 0;
  for (const a of arrays) {
    all.set(a, at);
    at += a.length;
  }
  // Float32Array is in the platform's byte order; every machine this runs on is little-endian, as numpy's '<f4' reads it.
  return Buffer.from(all.buffer);
}

class Exporter {
  readonly layers: ExportedLayer[] = [];
  private readonly chunks: Float32Array[] = [];
  private offset = 0;
  private readonly names = new Set<string>(['input']);

  blob(): Buffer {
    return floatBytes(this.chunks);
  }

  /** The layers of a (possibly nested) model given the values its inputs stand for, in topological order (see walkLayers). */
  container(model: tf.LayersModel, inputs: Value[]): Value[] {
    return walkLayers(
      model,
      inputs,
      (layer, ins, outTensors) => (isNestedModel(layer) ? this.container(layer as unknown as tf.LayersModel, ins) : [this.layer(layer, ins, outTensors[0].shape)]),
      (message) => new ExportError(message),
    );
  }

  private layer(layer: tf.layers.Layer, ins: Value[], shape: (number | null)[]): Value {
    const cls = layer.getClassName();
    const config = layer.getConfig() as Config;
    const x = ins[0];
    const fail = (why: string): never => {
      throw new ExportError(`layer ${layer.name} (${cls}): ${why}`);
    };
    if (IDENTITY.has(cls)) return x;
    if (cls === 'EdgesightKerasResizing') {
      if (x.shape[1] === shape[1] && x.shape[2] === shape[2]) return x;
      fail(`resizes ${x.shape[1]}x${x.shape[2]} to ${shape[1]}x${shape[2]}`);
    }
    if (config.dataFormat === 'channelsFirst') fail('channels-first data format');
    const weights: Record<string, ExportedWeight> = {};
    const take = (name: string) => (weights[name] = this.weight(layer, name));
    let settings: Config = {};
    const activation = () => {
      const a = (config.activation as string | undefined) ?? 'linear';
      if (!ACTIVATIONS.has(a)) fail(`activation ${a}`);
      return a;
    };
    switch (cls) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        const kernel = take(cls === 'Conv2D' ? 'kernel' : 'depthwise_kernel');
        if (cls === 'SeparableConv2D') take('pointwise_kernel');
        if (config.useBias) take('bias');
        const [kh, kw] = kernel.shape;
        const strides = pair(config.strides, 1);
        const dilation = pair(config.dilationRate, 1);
        settings = { kernel: [kh, kw], strides, dilation, pads: pads(layer, config.padding, x, [kh, kw], strides, dilation, fail), activation: activation(), useBias: !!config.useBias };
        break;
      }
      case 'Dense':
        if (x.shape.length !== 2) fail(`applied to a rank-${x.shape.length} input; only (batch, features) is exported`);
        take('kernel');
        if (config.useBias) take('bias');
        settings = { units: config.units, activation: activation(), useBias: !!config.useBias };
        break;
      case 'BatchNormalization': {
        const rank = x.shape.length;
        const axis = (((config.axis as number) ?? -1) + rank) % rank;
        if (axis !== rank - 1) fail(`normalises axis ${String(config.axis)}; only the channel (last) axis is exported`);
        take('moving_mean');
        take('moving_variance');
        if (config.scale !== false) take('gamma');
        if (config.center !== false) take('beta');
        settings = { epsilon: (config.epsilon as number | undefined) ?? 1e-3 };
        break;
      }
      case 'Activation':
        settings = { activation: activation() };
        break;
      case 'ReLU':
        settings = { maxValue: (config.maxValue as number | null | undefined) ?? null };
        break;
      case 'LeakyReLU':
        settings = { alpha: (config.alpha as number | undefined) ?? 0.3 };
        break;
      case 'Softmax':
        if (x.shape.length !== 2 || ![-1, 1].includes(config.axis as number)) fail('softmax over other than the class axis of a (batch, classes) value');
        break;
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const size = pair(config.poolSize, 2);
        const strides = pair(config.strides ?? config.poolSize, 2);
        settings = { pool: size, strides, pads: pads(layer, config.padding, x, size, strides, [1, 1], fail) };
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        if (config.keepdims) fail('keepdims is not exported');
        break;
      case 'Flatten':
        if (x.shape.length !== 2 && x.shape.length !== 4) fail(`flattens a rank-${x.shape.length} value`);
        break;
      case 'ZeroPadding2D': {
        const [[top, bottom], [left, right]] = config.padding as [[number, number], [number, number]];
        settings = { pads: [top, left, bottom, right] };
        break;
      }
      case 'Rescaling':
        if (typeof config.scale !== 'number' || typeof config.offset !== 'number') fail('per-channel scale or offset');
        settings = { scale: config.scale, offset: config.offset };
        break;
      case 'Add':
      case 'Multiply':
      case 'Maximum':
      case 'Minimum':
        break;
      case 'Concatenate': {
        const rank = x.shape.length;
        settings = { axis: ((config.axis as number) + rank) % rank };
        break;
      }
      default:
        fail('the reference has no translation for this layer type');
    }
    const name = this.unique(layer.name);
    this.layers.push({ name, op: cls, inputs: ins.map((v) => v.name), shape, config: settings, weights });
    return { name, shape };
  }

  private unique(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** A layer's weight by its Keras name (the last part of the variable's name), appended to the blob. */
  private weight(layer: tf.layers.Layer, suffix: string): ExportedWeight {
    const short = (n: string) => n.split('/').pop()!.replace(/:\d+$/, '').replace(/_\d+$/, '');
    const v = layer.weights.find((w) => short(w.name) === suffix) ?? layer.weights.find((w) => w.name.endsWith(suffix));
    if (!v) throw new ExportError(`layer ${layer.name}: weight ${suffix} not found`);
    const t = v.read();
    const data = t.dataSync() as Float32Array;
    const exported = { offset: this.offset, shape: t.shape.slice() };
    this.chunks.push(data.slice());
    this.offset += data.length;
    return exported;
  }
}

function pair(v: unknown, fallback: number): number[] {
  if (v === undefined || v === null) return [fallback, fallback];
  return Array.isArray(v) ? (v as number[]) : [v as number, v as number];
}

/**
 * [top, left, bottom, right] of 'valid' (none) or TF's 'same': total padding per axis so that
 * out = ceil(in / stride), the odd pixel at the bottom/right, where TF puts it.
 */
function pads(layer: tf.layers.Layer, padding: unknown, x: Value, kernel: number[], strides: number[], dilation: number[], fail: (why: string) => never): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') return fail(`padding ${String(padding)}`);
  const [, h, w] = x.shape;
  if (typeof h !== 'number' || typeof w !== 'number') return fail(`input size ${x.shape.join('x')} is not fixed (layer ${layer.name})`);
  const axis = (size: number, k: number, s: number, d: number): [number, number] => {
    const total = Math.max((Math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [top, bottom] = axis(h, kernel[0], strides[0], dilation[0]);
  const [left, right] = axis(w, kernel[1], strides[1], dilation[1]);
  return [top, left, bottom, right];
}
