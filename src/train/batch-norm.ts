import * as tf from '@tensorflow/tfjs';

/**
 * Batch normalisation in training mode as two fused WASM-heap kernels (forward: statistics and
 * normalisation; backward: one reduction and one pass for dx), instead of the layers API's
 * composition (moments, batchNorm, their autodiff: Sum, Mean, broadcast Multiply/Sub, Tile, and
 * a copy of every saved input). On the compact network at 96x96 that composition was the largest
 * part of a WASM training step. Only the training path changes: inference, the saved model
 * (class, config, weights) and the moving-average updates are the layer's own.
 */
export const BN_FORWARD = 'EdgesightBatchNormTraining';
export const BN_BACKWARD = 'EdgesightBatchNormTrainingGrad';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

interface KernelArgs<I> {
  inputs: I;
  backend: WasmBackendLike;
  attrs: { epsilon: number };
}

let registered = false;

/** Registers the fused kernels for the WASM backend and their gradient (idempotent). */
export function registerFusedBatchNorm(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: BN_FORWARD, backendName: 'wasm', kernelFunc: forward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: BN_BACKWARD, backendName: 'wasm', kernelFunc: backward as unknown as tf.KernelFunc });
  tf.registerGradient({
    kernelName: BN_FORWARD,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const [x, gamma, mean, variance] = saved;
      // One kernel gives all three, run here rather than in the thunks: the engine runs each
      // thunk in its own tidy, which would free the other two. Its backward tidy frees
      // whichever is not asked for.
      const [dx, dgamma, dbeta] = tf.engine().runKernel(BN_BACKWARD, { dy, x, gamma, mean, variance }, attrs as never) as tf.Tensor[];
      return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
    },
  });
}

/**
 * y = (x - mean) / sqrt(variance + epsilon) * gamma + beta per channel (the last axis), with the
 * batch's mean and (biased, as moments gives) variance, which are outputs too. Sums in doubles.
 */
function forward({ inputs, backend, attrs }: KernelArgs<{ x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo }>): tf.TensorInfo[] {
  const { x, gamma, beta } = inputs;
  const C = x.shape[x.shape.length - 1];
  const xv = backend.typedArrayFromHeap(x);
  const pixels = xv.length / C;
  const sum = new Float64Array(C);
  const squares = new Float64Array(C);
  channelSums(xv, xv, C, sum, squares);
  const meanOut = backend.makeOutput([C], 'float32');
  const varOut = backend.makeOutput([C], 'float32');
  const yOut = backend.makeOutput(x.shape, 'float32');
  // Heap views are taken after every makeOutput: an allocation can grow (and move) the heap.
  const mean = backend.typedArrayFromHeap(meanOut);
  const variance = backend.typedArrayFromHeap(varOut);
  const g = backend.typedArrayFromHeap(gamma);
  const b = backend.typedArrayFromHeap(beta);
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const m = sum[c] / pixels;
    const v = Math.max(0, squares[c] / pixels - m * m);
    mean[c] = m;
    variance[c] = v;
    scale[c] = g[c] / Math.sqrt(v + attrs.epsilon);
    shift[c] = b[c] - m * scale[c];
  }
  const y = backend.typedArrayFromHeap(yOut);
  const xs = backend.typedArrayFromHeap(x);
  for (let p = 0, at = 0; p < pixels; p++) {
    for (let c = 0; c < C; c++, at++) y[at] = xs[at] * scale[c] + shift[c];
  }
  return [yOut, meanOut, varOut];
}

/**
 * The whole gradient, mean and variance included (they are functions of x):
 * dbeta = sum dy, dgamma = sum dy * xhat, dx = gamma * invstd * (dy - (dbeta + xhat * dgamma) / n).
 */
function backward({ inputs, backend, attrs }: KernelArgs<{ dy: tf.TensorInfo; x: tf.TensorInfo; gamma: tf.TensorInfo; mean: tf.TensorInfo; variance: tf.TensorInfo }>): tf.TensorInfo[] {
  const { x } = inputs;
  const C = x.shape[x.shape.length - 1];
  const dxOut = backend.makeOutput(x.shape, 'float32');
  const dgOut = backend.makeOutput([C], 'float32');
  const dbOut = backend.makeOutput([C], 'float32');
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(inputs.dy);
  const mv = backend.typedArrayFromHeap(inputs.mean);
  const vv = backend.typedArrayFromHeap(inputs.variance);
  const gv = backend.typedArrayFromHeap(inputs.gamma);
  const pixels = xv.length / C;
  const mean = Float32Array.from(mv);
  const invstd = Float32Array.from(vv, (v) => 1 / Math.sqrt(v + attrs.epsilon));
  const sumDy = new Float64Array(C);
  const sumDyX = new Float64Array(C);
  // sum dy * x, then sum dy * (x - mean) = sum dy * x - mean * sum dy.
  channelSums(dyv, xv, C, sumDy, sumDyX);
  for (let c = 0; c < C; c++) sumDyX[c] -= mean[c] * sumDy[c];
  const dgamma = backend.typedArrayFromHeap(dgOut);
  const dbeta = backend.typedArrayFromHeap(dbOut);
  // dx = k * dy + a * x + b per channel, with the sums folded into k, a and b.
  const k = new Float32Array(C);
  const a = new Float32Array(C);
  const b = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const dg = sumDyX[c] * invstd[c];
    dgamma[c] = dg;
    dbeta[c] = sumDy[c];
    k[c] = gv[c] * invstd[c];
    a[c] = (-k[c] * dg * invstd[c]) / pixels;
    b[c] = (-k[c] * sumDy[c]) / pixels - a[c] * mean[c];
  }
  const dx = backend.typedArrayFromHeap(dxOut);
  for (let p = 0, at = 0; p < pixels; p++) {
    for (let c = 0; c < C; c++, at++) dx[at] = k[c] * dyv[at] + a[c] * xv[at] + b[c];
  }
  return [dxOut, dgOut, dbOut];
}

/** Pixels per tile of channelSums: 1024 x C values stay in the core's cache while each channel is summed. */
const TILE = 1024;

/**
 * Per channel (the innermost axis, C wide): first[c] += sum of a, second[c] += sum of a * b.
 * Tiled, one channel at a time within a tile, so the running sums live in registers: summing
 * into a per-channel array element by element was four times slower.
 */
function channelSums(a: Float32Array, b: Float32Array, C: number, first: Float64Array, second: Float64Array): void {
  const pixels = a.length / C;
  for (let p0 = 0; p0 < pixels; p0 += TILE) {
    const end = Math.min(pixels, p0 + TILE) * C;
    for (let c = 0; c < C; c++) {
      let s = 0;
      let q = 0;
      for (let at = p0 * C + c; at < end; at += C) {
        const v = a[at];
        s += v;
        q += v * b[at];
      }
      first[c] += s;
      second[c] += q;
    }
  }
}

/** The fields of tfjs-layers' BatchNormalization that its training path reads. */
interface BatchNormLayer {
  getClassName(): string;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor | tf.Tensor[];
  axis: number | number[];
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma?: { read(): tf.Tensor };
  beta?: { read(): tf.Tensor };
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}

const fused = new WeakSet<object>();

/**
 * Makes every BatchNormalization layer of `model` (nested models too) train through the fused
 * kernels while the WASM backend is active; on any other backend, or for a shape or option the
 * kernels do not cover (normalising an axis other than the last, no centre or scale), the
 * layer's own code runs. A layer whose `call` was already replaced on the instance is skipped.
 * Returns how many layers were switched.
 */
export function fuseBatchNorm(model: tf.LayersModel): number {
  registerFusedBatchNorm();
  let count = 0;
  const visit = (layers: tf.layers.Layer[]) => {
    for (const layer of layers) {
      const inner = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
      if (inner) visit(inner);
      // A call already replaced on the instance is someone's decision about this layer (transfer
      // learning keeps a frozen base's batch norm in inference mode that way): leave it be.
      if (layer.getClassName() !== 'BatchNormalization' || fused.has(layer) || Object.prototype.hasOwnProperty.call(layer, 'call')) continue;
      fused.add(layer);
      count++;
      const bn = layer as unknown as BatchNormLayer;
      const original = bn.call.bind(bn);
      bn.call = (inputs, kwargs) => {
        const x = Array.isArray(inputs) ? inputs[0] : inputs;
        const axis = Array.isArray(bn.axis) ? bn.axis : [bn.axis];
        const last = axis.length === 1 && (axis[0] === -1 || axis[0] === x.rank - 1);
        if (!kwargs.training || tf.getBackend() !== 'wasm' || !last || !bn.center || !bn.scale || !bn.gamma || !bn.beta || x.dtype !== 'float32') return original(inputs, kwargs);
        return tf.tidy(() => {
          const [y, mean, variance] = tf.engine().runKernel(BN_FORWARD, { x, gamma: bn.gamma!.read(), beta: bn.beta!.read() }, { epsilon: bn.epsilon } as never) as tf.Tensor[];
          // The moving averages exactly as the layer updates them.
          for (const [variable, value] of [[bn.movingMean, mean], [bn.movingVariance, variance]] as const) {
            tf.tidy(() => {
              const current = variable.read();
              variable.write(tf.sub(current, tf.mul(tf.sub(current, value), 1 - bn.momentum)));
            });
          }
          return y;
        });
      };
    }
  };
  visit(model.layers);
  return count;
}
