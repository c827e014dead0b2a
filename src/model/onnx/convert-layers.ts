import type * as tf from '@tensorflow/tfjs';
import { OnnxGraph } from './onnx-graph';
import { isNestedModel, walkLayers } from '../layer-graph';

/** A TF.js layers model as ONNX: the bytes, and the layout of their input (NCHW: OpenCV's own). */
export interface ConvertedModel {
  onnx: Uint8Array;
  layout: 'nchw';
  /** Layers kept (InputLayer and inference no-ops such as Dropout included). */
  layers: number;
}

/** A layer (or a setting of one) that has no ONNX translation here: the model stays on TF.js. */
export class UnconvertibleError extends Error {}

type Layer = tf.layers.Layer;
type Sym = tf.SymbolicTensor;
type Config = Record<string, unknown>;

/** An ONNX tensor standing for a Keras tensor. Rank-4 values are held as NCHW throughout. */
interface Value {
  name: string;
  /** The Keras (NHWC) shape, batch first. */
  shape: (number | null)[];
}

/** Layers that compute nothing at inference. */
const IDENTITY = new Set(['InputLayer', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'RandomFlip', 'RandomRotation', 'RandomZoom', 'RandomTranslation', 'RandomContrast', 'RandomBrightness', 'RandomHeight', 'RandomWidth', 'RandomCrop']);

/**
 * Translates a TF.js layers model (as loaded from a package or a Keras file) into an ONNX graph
 * that OpenCV DNN reads. Keras works in NHWC, OpenCV's convolutions in NCHW: the graph takes an
 * NCHW input and keeps every 4-D value NCHW, so weights are permuted once here instead of
 * transposing activations between layers. Where Keras order matters again (Flatten), the value
 * goes back to NHWC first, or Dense weights trained on NHWC order would meet the wrong pixels.
 * Throws UnconvertibleError naming the first layer it cannot translate.
 */
export function convertLayersModel(model: tf.LayersModel): ConvertedModel {
  const g = new OnnxGraph();
  const input = model.inputs[0];
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new UnconvertibleError(`the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; one of each is supported`);
  const [, h, w, c] = input.shape;
  if (input.shape.length !== 4 || typeof h !== 'number' || typeof w !== 'number' || typeof c !== 'number') throw new UnconvertibleError(`input shape [${input.shape.join(', ')}] is not (batch, height, width, channels)`);
  const inputName = 'input';
  const counter = { layers: 0 };
  const [out] = convertContainer(g, model, [{ name: inputName, shape: input.shape }], counter);
  if (out.shape.length !== 2) throw new UnconvertibleError(`output has rank ${out.shape.length}; (batch, classes) is supported`);
  const onnx = g.encode({ name: inputName, dims: [-1, c, h, w] }, { name: out.name, dims: [-1, out.shape[1] as number] });
  return { onnx, layout: 'nchw', layers: counter.layers };
}

/** Converts the layers of a (possibly nested) model, given the values its inputs stand for. */
function convertContainer(g: OnnxGraph, model: tf.LayersModel, inputs: Value[], counter: { layers: number }): Value[] {
  return walkLayers(model, inputs, (layer, ins, outTensors) => convertLayer(g, layer, ins, outTensors, counter), (message) => new UnconvertibleError(message));
}

function convertLayer(g: OnnxGraph, layer: Layer, ins: Value[], outTensors: Sym[], counter: { layers: number }): Value[] {
  counter.layers++;
  const cls = layer.getClassName();
  const config = layer.getConfig() as Config;
  const outShape = outTensors[0].shape;
  const x = ins[0];
  const value = (name: string): Value[] => [{ name, shape: outShape }];
  const fail = (why: string): never => {
    throw new UnconvertibleError(`layer ${layer.name} (${cls}): ${why}`);
  };
  if (isNestedModel(layer)) return convertContainer(g, layer as unknown as tf.LayersModel, ins, counter);
  if (IDENTITY.has(cls)) return [x];
  switch (cls) {
    case 'EdgesightKerasResizing':
      // Keras's Resizing at the size it is given anyway (Teachable Machine, course models) does nothing.
      if (sameSpatial(x.shape, outShape)) return [x];
      return fail(`resizes ${x.shape[1]}x${x.shape[2]} to ${outShape[1]}x${outShape[2]}`);
    case 'Conv2D':
      return value(activation(g, conv(g, layer, x, outShape, 'kernel', false), config, x.shape.length, fail));
    case 'DepthwiseConv2D':
      return value(activation(g, conv(g, layer, x, outShape, 'depthwise_kernel', true), config, 4, fail));
    case 'SeparableConv2D': {
      const depthwise = conv(g, layer, x, null, 'depthwise_kernel', true, false);
      const pointwise = weight(layer, 'pointwise_kernel');
      const [, , inC, outC] = pointwise.shape;
      const bias = config.useBias ? weight(layer, 'bias') : undefined;
      const inputs = [depthwise, g.floats(`${layer.name}/pointwise`, [outC, inC, 1, 1], permuteKernel(pointwise.data, 1, 1, inC, outC))];
      if (bias) inputs.push(g.floats(`${layer.name}/bias`, [outC], bias.data));
      return value(activation(g, g.node('Conv', inputs, { kernel_shape: [1, 1] }, layer.name), config, 4, fail));
    }
    case 'Dense': {
      if (x.shape.length !== 2) fail(`applied to a rank-${x.shape.length} input; only (batch, features) is converted`);
      const kernel = weight(layer, 'kernel');
      const [features, units] = kernel.shape;
      // Stored [units, features] with transB, PyTorch's layout: OpenCV 4.6's Gemm import reads
      // the weight's first dimension as the output count whatever transB says.
      const transposed = new Float32Array(kernel.data.length);
      for (let i = 0; i < features; i++) for (let o = 0; o < units; o++) transposed[o * features + i] = kernel.data[i * units + o];
      const inputs = [x.name, g.floats(`${layer.name}/kernel`, [units, features], transposed)];
      inputs.push(config.useBias ? g.floats(`${layer.name}/bias`, [units], weight(layer, 'bias').data) : g.floats(`${layer.name}/bias`, [units], new Float32Array(units)));
      return value(activation(g, g.node('Gemm', inputs, { transB: 1 }, layer.name), config, 2, fail));
    }
    case 'BatchNormalization':
      return value(batchNorm(g, layer, x, config, fail));
    case 'Activation':
      return value(activation(g, x.name, config, x.shape.length, fail));
    case 'ReLU': {
      const max = config.maxValue as number | null | undefined;
      return value(max === null || max === undefined ? g.node('Relu', [x.name]) : clip(g, x.name, 0, max));
    }
    case 'LeakyReLU':
      return value(g.node('LeakyRelu', [x.name], { alpha: { float: (config.alpha as number | undefined) ?? 0.3 } }));
    case 'Softmax':
      if (x.shape.length !== 2 || ![-1, 1].includes(config.axis as number)) fail('softmax over other than the class axis of a (batch, classes) value');
      return value(g.node('Softmax', [x.name], { axis: 1 }));
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return value(pool(g, layer, x, outShape, cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', config, fail));
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D': {
      if (config.keepdims) fail('keepdims is not converted');
      const pooled = g.node(cls === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool', [x.name]);
      return value(g.node('Flatten', [pooled], { axis: 1 }));
    }
    case 'Flatten':
      if (x.shape.length === 2) return [x];
      if (x.shape.length !== 4) fail(`flattens a rank-${x.shape.length} value`);
      // Back to NHWC first: the next Dense layer's weights expect Keras's flatten order.
      return value(g.node('Flatten', [g.node('Transpose', [x.name], { perm: [0, 2, 3, 1] })], { axis: 1 }, layer.name));
    case 'ZeroPadding2D': {
      const [[top, bottom], [left, right]] = config.padding as [[number, number], [number, number]];
      if (config.dataFormat === 'channelsFirst') fail('channels-first data format');
      return value(g.node('Pad', [x.name], { pads: [0, 0, top, left, 0, 0, bottom, right] }, layer.name));
    }
    case 'Rescaling': {
      // Keras's x * scale + offset, both scalars (per-channel scales are not converted).
      const scale = config.scale as number;
      const offset = config.offset as number;
      if (typeof scale !== 'number' || typeof offset !== 'number') fail('per-channel scale or offset');
      const scaled = g.node('Mul', [x.name, g.floats(`${layer.name}/scale`, [1], [scale])]);
      return value(g.node('Add', [scaled, g.floats(`${layer.name}/offset`, [1], [offset])]));
    }
    case 'Add':
    case 'Multiply':
    case 'Maximum':
    case 'Minimum': {
      const op = { Add: 'Add', Multiply: 'Mul', Maximum: 'Max', Minimum: 'Min' }[cls];
      let acc = ins[0].name;
      for (const other of ins.slice(1)) acc = g.node(op, [acc, other.name], {}, layer.name);
      return value(acc);
    }
    case 'Concatenate': {
      const rank = x.shape.length;
      const axis = ((config.axis as number) + rank) % rank;
      // Keras's channel axis (last) is axis 1 of an NCHW value.
      const onnxAxis = rank === 4 ? [0, 2, 3, 1][axis] : axis;
      return value(g.node('Concat', ins.map((v) => v.name), { axis: onnxAxis }, layer.name));
    }
    default:
      return fail('no ONNX translation for this layer type');
  }
}

function sameSpatial(a: (number | null)[], b: (number | null)[]): boolean {
  return a[1] === b[1] && a[2] === b[2];
}

interface Weight {
  shape: number[];
  data: Float32Array;
}

/** A layer's weight by its Keras name (the part after the last '/'). */
function weight(layer: Layer, suffix: string): Weight {
  const v = layer.weights.find((w) => w.name.split('/').pop()!.replace(/:\d+$/, '').replace(/_\d+$/, '') === suffix) ?? layer.weights.find((w) => w.name.endsWith(suffix));
  if (!v) throw new UnconvertibleError(`layer ${layer.name}: weight ${suffix} not found`);
  const t = v.read();
  return { shape: t.shape, data: t.dataSync() as Float32Array };
}

/** Keras kernel [kh, kw, in, out] to ONNX [out, in, kh, kw]. */
function permuteKernel(k: Float32Array, kh: number, kw: number, inC: number, outC: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < inC; i++) for (let o = 0; o < outC; o++) out[((o * inC + i) * kh + y) * kw + x] = k[((y * kw + x) * inC + i) * outC + o];
  return out;
}

/**
 * Pads for TF's 'same': total padding per axis so that out = ceil(in / stride), with the odd
 * pixel at the end (bottom/right), which is where TF puts it and ONNX's auto_pad SAME_UPPER
 * would too; explicit pads keep OpenCV from guessing.
 */
function samePads(inH: number, inW: number, kh: number, kw: number, strides: number[], dilation: number[]): number[] {
  const axis = (size: number, k: number, s: number, d: number): [number, number] => {
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [top, bottom] = axis(inH, kh, strides[0], dilation[0]);
  const [left, right] = axis(inW, kw, strides[1], dilation[1]);
  return [top, left, bottom, right];
}

function pair(v: unknown, fallback: number): number[] {
  if (v === undefined || v === null) return [fallback, fallback];
  return Array.isArray(v) ? (v as number[]) : [v as number, v as number];
}

/** Conv2D or DepthwiseConv2D (a grouped convolution, one group per input channel); returns the output name. */
function conv(g: OnnxGraph, layer: Layer, x: Value, _outShape: unknown, kernelName: string, depthwise: boolean, withBias = true): string {
  const config = layer.getConfig() as Config;
  if (config.dataFormat === 'channelsFirst') throw new UnconvertibleError(`layer ${layer.name}: channels-first data format`);
  const k = weight(layer, kernelName);
  const [kh, kw, inC, m] = k.shape;
  const strides = pair(config.strides, 1);
  const dilation = pair(config.dilationRate, 1);
  const attrs: Record<string, number[] | number> = { kernel_shape: [kh, kw], strides, dilations: dilation };
  if (config.padding === 'same') attrs.pads = samePads(x.shape[1] as number, x.shape[2] as number, kh, kw, strides, dilation);
  else if (config.padding !== 'valid') throw new UnconvertibleError(`layer ${layer.name}: padding ${String(config.padding)}`);
  let kernel: Float32Array;
  let dims: number[];
  if (depthwise) {
    // Keras's depthwise output channel c*m + j is ONNX group c's output j: the same index.
    kernel = permuteKernel(k.data, kh, kw, 1, inC * m).fill(0);
    for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) for (let c = 0; c < inC; c++) for (let j = 0; j < m; j++) kernel[((c * m + j) * kh + y) * kw + xx] = k.data[((y * kw + xx) * inC + c) * m + j];
    dims = [inC * m, 1, kh, kw];
    attrs.group = inC;
  } else {
    kernel = permuteKernel(k.data, kh, kw, inC, m);
    dims = [m, inC, kh, kw];
  }
  const inputs = [x.name, g.floats(`${layer.name}/kernel`, dims, kernel)];
  if (withBias && config.useBias) inputs.push(g.floats(`${layer.name}/bias`, [dims[0]], weight(layer, 'bias').data));
  return g.node('Conv', inputs, attrs, layer.name);
}

function pool(g: OnnxGraph, layer: Layer, x: Value, _out: unknown, op: 'MaxPool' | 'AveragePool', config: Config, fail: (why: string) => never): string {
  if (config.dataFormat === 'channelsFirst') fail('channels-first data format');
  const size = pair(config.poolSize, 2);
  const strides = pair(config.strides ?? config.poolSize, 2);
  const attrs: Record<string, number[] | number> = { kernel_shape: size, strides };
  if (config.padding === 'same') {
    attrs.pads = samePads(x.shape[1] as number, x.shape[2] as number, size[0], size[1], strides, [1, 1]);
    // TF averages over the pixels inside the image only; ONNX's default (count_include_pad 0) agrees.
    if (op === 'AveragePool') attrs.count_include_pad = 0;
  } else if (config.padding !== 'valid') fail(`padding ${String(config.padding)}`);
  return g.node(op, [x.name], attrs, layer.name);
}

function batchNorm(g: OnnxGraph, layer: Layer, x: Value, config: Config, fail: (why: string) => never): string {
  const rank = x.shape.length;
  const axis = (((config.axis as number) ?? -1) + rank) % rank;
  if (axis !== rank - 1) fail(`normalises axis ${config.axis as number}; only the channel (last) axis is converted`);
  const mean = weight(layer, 'moving_mean');
  const variance = weight(layer, 'moving_variance');
  const n = mean.data.length;
  const gamma = config.scale === false ? new Float32Array(n).fill(1) : weight(layer, 'gamma').data;
  const beta = config.center === false ? new Float32Array(n) : weight(layer, 'beta').data;
  // Folded into one per-channel scale and shift (what OpenCV does with BatchNormalization anyway),
  // computed in double precision so the folding adds no error of its own.
  const eps = (config.epsilon as number | undefined) ?? 1e-3;
  const scale = new Float32Array(n);
  const shift = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = gamma[i] / Math.sqrt(variance.data[i] + eps);
    scale[i] = s;
    shift[i] = beta[i] - mean.data[i] * s;
  }
  const dims = rank === 4 ? [n, 1, 1] : [n];
  return g.node('Add', [g.node('Mul', [x.name, g.floats(`${layer.name}/scale`, dims, scale)]), g.floats(`${layer.name}/shift`, dims, shift)], {}, layer.name);
}

function clip(g: OnnxGraph, x: string, min: number, max: number): string {
  return g.node('Clip', [x], { min: { float: min }, max: { float: max } });
}

/** A layer's fused activation after `x`; returns the name of the activated value. */
function activation(g: OnnxGraph, x: string, config: Config, rank: number, fail: (why: string) => never): string {
  const name = (config.activation as string | undefined) ?? 'linear';
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return g.node('Relu', [x]);
    case 'relu6':
      return clip(g, x, 0, 6);
    case 'sigmoid':
      return g.node('Sigmoid', [x]);
    case 'tanh':
      return g.node('Tanh', [x]);
    case 'elu':
      return g.node('Elu', [x], { alpha: { float: 1 } });
    case 'softmax':
      if (rank !== 2) fail('softmax over a rank-4 value');
      return g.node('Softmax', [x], { axis: 1 });
    default:
      return fail(`activation ${name}`);
  }
}
