import * as tf from '@tensorflow/tfjs';

/**
 * What the WASM backend needs to train at speed: the Conv2DBackpropFilter (im2col rows times dy
 * on XNNPACK's matrix product) and depthwise gradient kernels it lacks; Conv2DBackpropInput and
 * transposed BatchMatMul, which it has only as plain loops, moved onto its fast (XNNPACK)
 * convolution and product; faster MaxPoolGrad and Tile; an Identity that shares instead of
 * copying. Batch norm's training path is batch-norm.ts. Checked numerically against the cpu
 * backend in test/train/wasm-gradients.test.ts; where a step's time goes: docs/training-speed.md.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc });
  wrapKernel('Conv2DBackpropInput', (original) => (args) => conv2DBackpropInput(args as unknown as InputArgs, original));
  wrapKernel('BatchMatMul', (original) => (args) => batchMatMul(args as unknown as MatMulArgs, original));
  tf.registerKernel({ kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc });
  wrapKernel('MaxPoolGrad', () => maxPoolGrad as unknown as tf.KernelFunc);
  wrapKernel('Tile', (original) => (args) => tile(args as unknown as TileArgs, original));
  wrapKernel('Identity', (original) => (args) => identity(args as unknown as TileArgs, original));
}

let registered = false;

/**
 * Replaces a WASM kernel by one that may hand the work back to it. The original's setup (its
 * bindings into the WASM module) is kept, so the order of backend start-up does not matter.
 */
function wrapKernel(name: string, wrap: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const original = tf.getKernel(name, 'wasm');
  if (!original) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...original, kernelFunc: wrap(original.kernelFunc) });
}

interface MatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/**
 * The WASM BatchMatMul is fast (XNNPACK) only without transposes; with one it takes a plain
 * loop 10-20x slower, and backpropagation through a dense layer asks for both kinds. Transposing
 * the operand first costs a copy of it and keeps the product on the fast path.
 */
function batchMatMul({ inputs, backend, attrs }: MatMulArgs, original: tf.KernelFunc): tf.TensorInfo {
  if (!attrs.transposeA && !attrs.transposeB) return original({ inputs, backend, attrs } as never) as tf.TensorInfo;
  const swapLast = (t: tf.TensorInfo) =>
    tf.tidy(() => {
      const rank = t.shape.length;
      const perm = [...Array(rank).keys()];
      [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
      return tf.transpose(borrow(t, backend), perm);
    });
  const a = attrs.transposeA ? swapLast(inputs.a) : undefined;
  const b = attrs.transposeB ? swapLast(inputs.b) : undefined;
  try {
    return original({ inputs: { a: a ?? inputs.a, b: b ?? inputs.b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } } as never) as tf.TensorInfo;
  } finally {
    a?.dispose();
    b?.dispose();
  }
}

interface InputArgs {
  inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { strides: number | [number, number]; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; inputShape: [number, number, number, number] };
}

/**
 * dx[b, iy, ix, ci] = sum of dy[b, oy, ox, co] * W[kh, kw, ci, co] over iy = oy * s + kh - padTop.
 * The WASM backend computes this with a plain loop; as a convolution it runs on XNNPACK: dy
 * spread out by the stride (zeros between), padded by kernel - 1 - forward padding, convolved
 * with the filter turned by 180 degrees and its in/out channels swapped.
 */
function conv2DBackpropInput({ inputs, backend, attrs }: InputArgs, original: tf.KernelFunc): tf.TensorInfo {
  if (attrs.dataFormat === 'NCHW') return original({ inputs, backend, attrs } as never) as tf.TensorInfo;
  const { dy, filter } = inputs;
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo, inHeight, inWidth } = info;
  const gradient = tf.tidy(() => {
    const turnedFilter = () => tf.transpose(tf.reverse(borrow(filter, backend) as tf.Tensor4D, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    // A strided layer: dy spread out and padded in one pass over the heap (the reshape, pad and
    // slice ops that do it otherwise took most of this gradient's time).
    if (strideHeight > 1 || strideWidth > 1) {
      const padded = spreadAndPad(dy, backend, info);
      if (padded) return tf.conv2d(padded, turnedFilter(), 1, 'valid');
    }
    let d = borrow(dy, backend) as tf.Tensor4D;
    d = spread(d, strideHeight, strideWidth);
    const top = filterHeight - 1 - padInfo.top;
    const left = filterWidth - 1 - padInfo.left;
    const bottom = inHeight + filterHeight - 1 - top - d.shape[1];
    const right = inWidth + filterWidth - 1 - left - d.shape[2];
    const turned = turnedFilter();
    // The same padding on every side as a 'same' convolution takes (stride 1, odd kernel, 'same'
    // forward: every 3x3 layer of the default network): let XNNPACK pad as it reads instead of
    // writing a padded copy of dy first.
    if (top === bottom && left === right && 2 * top === filterHeight - 1 && 2 * left === filterWidth - 1 && d.shape[1] === inHeight && d.shape[2] === inWidth) return tf.conv2d(d, turned, 1, 'same');
    // Negative padding (a forward pad wider than the kernel) cannot happen for 'same' or 'valid'.
    const padded = tf.pad(d, [[0, 0], [top, bottom], [left, right], [0, 0]]);
    return tf.conv2d(padded, turned, 1, 'valid');
  });
  const out = backend.makeOutput(attrs.inputShape, 'float32');
  backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(gradient));
  gradient.dispose();
  return out;
}

/**
 * dy with stride - 1 zeros between neighbouring rows and columns, padded by kernel - 1 - the
 * forward padding (before) and what completes the input's size plus kernel - 1 (after): the
 * input of the 'valid' convolution that gives dx. Undefined when that after-padding would be
 * negative (not for 'same' or 'valid' forward padding), for the general path to handle.
 */
function spreadAndPad(dy: tf.TensorInfo, backend: WasmBackendLike, i: tf.backend_util.Conv2DInfo): tf.Tensor4D | undefined {
  const [B, h, w, C] = dy.shape;
  const top = i.filterHeight - 1 - i.padInfo.top;
  const left = i.filterWidth - 1 - i.padInfo.left;
  const H = i.inHeight + i.filterHeight - 1;
  const W = i.inWidth + i.filterWidth - 1;
  if (top < 0 || left < 0 || top + (h - 1) * i.strideHeight >= H || left + (w - 1) * i.strideWidth >= W) return undefined;
  const info = backend.makeOutput([B, H, W, C], 'float32');
  const out = backend.typedArrayFromHeap(info);
  const dv = backend.typedArrayFromHeap(dy);
  out.fill(0);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < h; oy++) {
      for (let ox = 0; ox < w; ox++) {
        const to = ((b * H + top + oy * i.strideHeight) * W + left + ox * i.strideWidth) * C;
        const from = ((b * h + oy) * w + ox) * C;
        for (let c = 0; c < C; c++) out[to + c] = dv[from + c];
      }
    }
  }
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor4D;
}

/** Puts stride - 1 zeros between neighbouring rows and columns (rank-4 reshapes and pads only). */
function spread(d: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  const [b, h, w, c] = d.shape;
  let out = d;
  if (sw > 1) out = tf.pad(out.reshape([b * h, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]).reshape([b, h, w * sw, c]).slice([0, 0, 0, 0], [b, h, (w - 1) * sw + 1, c]) as tf.Tensor4D;
  if (sh > 1) {
    const width = out.shape[2];
    out = tf.pad(out.reshape([b, h, 1, width * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]).reshape([b, h * sh, width, c]).slice([0, 0, 0, 0], [b, (h - 1) * sh + 1, width, c]) as tf.Tensor4D;
  }
  return out;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  incRef(dataId: object): void;
}

/**
 * A kernel input as a Tensor that ops can take, holding its own reference to the data (the
 * engine's wrapper does not count one with the backend, so disposing it would free the
 * caller's data). Dispose it, or let a tidy do so.
 */
function borrow(info: tf.TensorInfo, backend: WasmBackendLike): tf.Tensor {
  const t = tf.engine().makeTensorFromTensorInfo(info);
  backend.incRef(info.dataId);
  return t;
}

interface Args {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { strides: number | [number, number]; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
}

/** Patch values per im2col chunk (16 MB of float32): bounds the extra memory a gradient takes. */
let patchChunkValues = 4 * 1024 * 1024;

/** For tests: a smaller chunk makes small inputs take the several-chunk path. Returns the previous size. */
export function setPatchChunkValues(values: number): number {
  const previous = patchChunkValues;
  patchChunkValues = values;
  return previous;
}

/**
 * dW[kh, kw, ci, co] = sum over batch and output positions of x[b, iy, ix, ci] * dy[b, oy, ox, co]
 * with iy = oy * strideH + kh - padTop (likewise ix).
 *
 * As one matrix product on the WASM backend's XNNPACK MatMul, dW = P x dy, with P the input's
 * patches laid out as [kh*kw*ci, positions] (im2col, transposed: row (kh, kw, c) holds, for every
 * output position, the input value that tap reads, 0 in the padding) and dy as [positions, co].
 * The product comes out as [kh, kw, ci, co], the filter's own layout. That orientation matters:
 * XNNPACK repacks the right operand at every call, cheap for dy's few columns, costly for P's.
 * A few whole images at a time bound P's size; the chunks' products are summed. (An earlier form
 * ran this as an XNNPACK convolution with dy as a 96x96 filter over the batch as channels, a
 * shape it runs at a fraction of its matrix-product speed.) NHWC only (the layers API's
 * default); TF.js refuses gradients of dilated convolutions, so the forward dilation is always 1.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: Args): tf.TensorInfo {
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (wasm): only NHWC is supported');
  const i = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const co = i.outChannels;
  const window = i.filterHeight * i.filterWidth * i.inChannels;
  const positions = i.outHeight * i.outWidth;
  const perChunk = Math.max(1, Math.min(i.batchSize, Math.floor(patchChunkValues / (positions * window))));
  const sum = perChunk < i.batchSize ? new Float32Array(window * co) : undefined;
  // Channel planes [ci, b, h, w]: each patch row is then a run of one plane's row.
  const planes = tf.tidy(() => tf.transpose(borrow(x, backend), [3, 0, 1, 2]));
  const dyAll = borrow(dy, backend);
  let last: tf.Tensor | undefined;
  try {
    for (let b0 = 0; b0 < i.batchSize; b0 += perChunk) {
      const count = Math.min(perChunk, i.batchSize - b0);
      const patchInfo = backend.makeOutput([window, count * positions], 'float32');
      fillPatchRows(backend.typedArrayFromHeap(patchInfo), backend.typedArrayFromHeap(planes), i, b0, count);
      const patches = tf.engine().makeTensorFromTensorInfo(patchInfo);
      // The chunk's rows of dy are contiguous: a plain copy (the WASM Slice kernel is far slower).
      let part: tf.Tensor | undefined;
      if (count < i.batchSize) {
        const partInfo = backend.makeOutput([count * positions, co], 'float32');
        backend.typedArrayFromHeap(partInfo).set(backend.typedArrayFromHeap(dy).subarray(b0 * positions * co, (b0 + count) * positions * co));
        part = tf.engine().makeTensorFromTensorInfo(partInfo);
      }
      const product = tf.tidy(() => tf.matMul(patches as tf.Tensor2D, (part ?? dyAll.reshape([count * positions, co])) as tf.Tensor2D));
      patches.dispose();
      part?.dispose();
      if (sum) {
        const values = backend.typedArrayFromHeap(product);
        for (let k = 0; k < values.length; k++) sum[k] += values[k];
        product.dispose();
      } else {
        last = product;
      }
    }
  } finally {
    planes.dispose();
    dyAll.dispose();
  }
  // Hand the result over in a buffer of the kernel's own making (the engine counts references
  // per buffer; returning a tensor's would leave it counted twice).
  const out = backend.makeOutput(attrs.filterShape, 'float32');
  backend.typedArrayFromHeap(out).set(sum ?? backend.typedArrayFromHeap(last!));
  last?.dispose();
  return out;
}

/**
 * Patch rows for images b0 .. b0+count from channel planes [ci, batch, h, w]: row
 * (kh, kw, c), column (b - b0, oy, ox) = x[b, oy * sh + kh - padTop, ox * sw + kw - padLeft, c],
 * 0 outside the input.
 */
function fillPatchRows(rows: Float32Array, planes: Float32Array, i: tf.backend_util.Conv2DInfo, b0: number, count: number): void {
  const { inHeight: H, inWidth: W, outHeight, outWidth, strideHeight: sh, strideWidth: sw } = i;
  const columns = count * outHeight * outWidth;
  let row = 0;
  for (let kh = 0; kh < i.filterHeight; kh++) {
    for (let kw = 0; kw < i.filterWidth; kw++) {
      // Output columns whose tap kw lands inside the input: ix = ox * sw + kw - padLeft in [0, W).
      const shift = kw - i.padInfo.left;
      const oxFrom = Math.min(outWidth, Math.max(0, Math.ceil(-shift / sw)));
      const oxTo = Math.max(oxFrom, Math.min(outWidth, Math.floor((W - 1 - shift) / sw) + 1));
      for (let c = 0; c < i.inChannels; c++, row++) {
        let at = row * columns;
        for (let b = b0; b < b0 + count; b++) {
          for (let oy = 0; oy < outHeight; oy++, at += outWidth) {
            const iy = oy * sh + kh - i.padInfo.top;
            if (iy < 0 || iy >= H) {
              rows.fill(0, at, at + outWidth);
              continue;
            }
            const from = ((c * i.batchSize + b) * H + iy) * W + shift;
            for (let ox = 0; ox < oxFrom; ox++) rows[at + ox] = 0;
            // Stride 1 (every 3x3 'same' layer of the default network): the run is a block copy.
            if (sw === 1) rows.set(planes.subarray(from + oxFrom, from + oxTo), at + oxFrom);
            else for (let ox = oxFrom; ox < oxTo; ox++) rows[at + ox] = planes[from + ox * sw];
            for (let ox = oxTo; ox < outWidth; ox++) rows[at + ox] = 0;
          }
        }
      }
    }
  }
}

interface DepthwiseArgs {
  inputs: { x?: tf.TensorInfo; dy: tf.TensorInfo; filter?: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { strides: number | [number, number]; pad: 'valid' | 'same' | number; dilations: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape?: [number, number, number, number]; inputShape?: [number, number, number, number] };
}

/** Shape facts of a depthwise convolution, shared by both of its gradients. */
function depthwiseInfo(xShape: [number, number, number, number], filterShape: [number, number, number, number], attrs: DepthwiseArgs['attrs']) {
  const dilations = typeof attrs.dilations === 'number' ? [attrs.dilations, attrs.dilations] : attrs.dilations ?? [1, 1];
  // TF.js itself refuses gradients of dilated depthwise convolutions; nothing here was checked for them.
  if (dilations[0] !== 1 || dilations[1] !== 1) throw new Error('depthwise convolution gradients (wasm): dilation must be 1');
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
  return { ...info, multiplier: filterShape[3] };
}

/**
 * Depthwise gradients (the `mobile` architecture's 3x3 depthwise layers), which the WASM backend
 * lacks. Depthwise work is small (one input channel per output), so plain loops over the WASM
 * heap do: dW[kh, kw, c, m] = sum x[b, iy, ix, c] * dy[b, oy, ox, c * M + m], with
 * iy = oy * s + kh - padTop. Any stride and padding.
 */
function depthwiseBackpropFilter({ inputs, backend, attrs }: DepthwiseArgs): tf.TensorInfo {
  const x = inputs.x!;
  const filterShape = attrs.filterShape!;
  const i = depthwiseInfo(x.shape as [number, number, number, number], filterShape, attrs);
  const out = backend.makeOutput(filterShape, 'float32');
  const dW = backend.typedArrayFromHeap(out);
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(inputs.dy);
  dW.fill(0);
  const M = i.multiplier;
  forEachTap(i, (xBase, wBase, dyBase) => {
    for (let c = 0; c < i.inChannels; c++) {
      const xval = xv[xBase + c];
      if (xval === 0) continue;
      for (let m = 0; m < M; m++) dW[wBase + c * M + m] += xval * dyv[dyBase + c * M + m];
    }
  });
  return out;
}

/** dx[b, iy, ix, c] = sum of dy[b, oy, ox, c * M + m] * W[kh, kw, c, m] over the windows that read (iy, ix). */
function depthwiseBackpropInput({ inputs, backend, attrs }: DepthwiseArgs): tf.TensorInfo {
  const filter = inputs.filter!;
  const inputShape = attrs.inputShape!;
  const i = depthwiseInfo(inputShape, filter.shape as [number, number, number, number], attrs);
  const out = backend.makeOutput(inputShape, 'float32');
  const dx = backend.typedArrayFromHeap(out);
  const wv = backend.typedArrayFromHeap(filter);
  const dyv = backend.typedArrayFromHeap(inputs.dy);
  dx.fill(0);
  const M = i.multiplier;
  forEachTap(i, (xBase, wBase, dyBase) => {
    for (let c = 0; c < i.inChannels; c++) {
      let sum = 0;
      for (let m = 0; m < M; m++) sum += dyv[dyBase + c * M + m] * wv[wBase + c * M + m];
      dx[xBase + c] += sum;
    }
  });
  return out;
}

/**
 * Every (input pixel, filter tap, output pixel) triple of a convolution that lies inside the
 * input, as the offsets of its channel runs in x (NHWC), the filter and dy: the walk both
 * depthwise gradients share; they differ only in what they do with the channels.
 */
function forEachTap(i: ReturnType<typeof depthwiseInfo>, visit: (xBase: number, wBase: number, dyBase: number) => void): void {
  for (let b = 0; b < i.batchSize; b++) {
    for (let oy = 0; oy < i.outHeight; oy++) {
      for (let kh = 0; kh < i.filterHeight; kh++) {
        const iy = oy * i.strideHeight + kh - i.padInfo.top;
        if (iy < 0 || iy >= i.inHeight) continue;
        for (let ox = 0; ox < i.outWidth; ox++) {
          const dyBase = ((b * i.outHeight + oy) * i.outWidth + ox) * i.outChannels;
          for (let kw = 0; kw < i.filterWidth; kw++) {
            const ix = ox * i.strideWidth + kw - i.padInfo.left;
            if (ix < 0 || ix >= i.inWidth) continue;
            visit(((b * i.inHeight + iy) * i.inWidth + ix) * i.inChannels, (kh * i.filterWidth + kw) * i.inChannels * i.multiplier, dyBase);
          }
        }
      }
    }
  }
}

interface MaxPoolGradArgs {
  inputs: { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { filterSize: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
}

/**
 * Max pooling's gradient: each output's gradient goes to the first largest input of its window
 * (as the cpu backend and TensorFlow choose). The WASM backend's own kernel goes through its
 * generic 3-D pooling code and is several times slower than this loop over the WASM heap.
 */
function maxPoolGrad({ inputs, backend, attrs }: MaxPoolGradArgs): tf.TensorInfo {
  const { dy, input } = inputs;
  const i = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const out = backend.makeOutput(input.shape, 'float32');
  const dx = backend.typedArrayFromHeap(out);
  const xv = backend.typedArrayFromHeap(input);
  const dyv = backend.typedArrayFromHeap(dy);
  dx.fill(0);
  const C = i.inChannels;
  if (i.filterHeight === 2 && i.filterWidth === 2 && i.strideHeight === 2 && i.strideWidth === 2 && i.padInfo.top === 0 && i.padInfo.left === 0 && 2 * i.outHeight <= i.inHeight && 2 * i.outWidth <= i.inWidth) {
    pool2x2Grad(xv, dyv, dx, i);
    return out;
  }
  for (let b = 0; b < i.batchSize; b++) {
    for (let oy = 0; oy < i.outHeight; oy++) {
      const y0 = oy * i.strideHeight - i.padInfo.top;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(i.inHeight, y0 + i.filterHeight);
      for (let ox = 0; ox < i.outWidth; ox++) {
        const x0 = ox * i.strideWidth - i.padInfo.left;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(i.inWidth, x0 + i.filterWidth);
        const dyBase = ((b * i.outHeight + oy) * i.outWidth + ox) * C;
        for (let c = 0; c < C; c++) {
          let best = -1;
          let bestValue = -Infinity;
          for (let y = yStart; y < yEnd; y++) {
            for (let x = xStart; x < xEnd; x++) {
              const at = ((b * i.inHeight + y) * i.inWidth + x) * C + c;
              if (xv[at] > bestValue) {
                bestValue = xv[at];
                best = at;
              }
            }
          }
          if (best >= 0) dx[best] += dyv[dyBase + c];
        }
      }
    }
  }
  return out;
}

/**
 * Identity shares the input's buffer (one more reference) as the cpu backend's does, instead of
 * copying it: the engine clones every tensor it saves for the backward pass, so the WASM copy
 * went over each large activation several times per training step. No WASM kernel writes into
 * its inputs, so a shared buffer is never changed under a reader.
 */
function identity({ inputs, backend, attrs }: TileArgs, original: tf.KernelFunc): tf.TensorInfo {
  const { x } = inputs;
  if (x.dtype === 'string') return original({ inputs, backend, attrs } as never) as tf.TensorInfo;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * The 2x2, stride-2, unpadded case (every pooling layer of the architectures here) without the
 * general window walk: the four candidates in scan order, the first largest taking the gradient.
 */
function pool2x2Grad(xv: Float32Array, dyv: Float32Array, dx: Float32Array, i: tf.backend_util.Conv2DInfo): void {
  const C = i.inChannels;
  const row = i.inWidth * C;
  for (let b = 0; b < i.batchSize; b++) {
    for (let oy = 0; oy < i.outHeight; oy++) {
      for (let ox = 0; ox < i.outWidth; ox++) {
        const a = ((b * i.inHeight + 2 * oy) * i.inWidth + 2 * ox) * C;
        const dyBase = ((b * i.outHeight + oy) * i.outWidth + ox) * C;
        for (let c = 0; c < C; c++) {
          let best = a + c;
          if (xv[a + C + c] > xv[best]) best = a + C + c;
          if (xv[a + row + c] > xv[best]) best = a + row + c;
          if (xv[a + row + C + c] > xv[best]) best = a + row + C + c;
          dx[best] += dyv[dyBase + c];
        }
      }
    }
  }
}

interface TileArgs {
  inputs: { x: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { reps: number[] };
}

/**
 * Tile by block copies, one dimension at a time from the innermost: batch normalisation's
 * gradient broadcasts its per-channel statistics over every pixel with Tile, and the WASM
 * backend's element-by-element Tile made it the most expensive step of training the compact
 * and mobile architectures.
 */
function tile({ inputs, backend, attrs }: TileArgs, original: tf.KernelFunc): tf.TensorInfo {
  const { x } = inputs;
  if (x.dtype !== 'float32') return original({ inputs, backend, attrs } as never) as tf.TensorInfo;
  let shape = [...x.shape];
  let data: Float32Array = backend.typedArrayFromHeap(x).slice();
  for (let d = shape.length - 1; d >= 0; d--) {
    const reps = attrs.reps[d];
    if (reps === 1) continue;
    const block = shape.slice(d).reduce((a, b) => a * b, 1);
    const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
    const next = new Float32Array(data.length * reps);
    for (let o = 0; o < outer; o++) {
      const source = data.subarray(o * block, (o + 1) * block);
      for (let r = 0; r < reps; r++) next.set(source, (o * reps + r) * block);
    }
    data = next;
    shape[d] *= reps;
  }
  shape = x.shape.map((s, i) => s * attrs.reps[i]);
  const out = backend.makeOutput(shape, 'float32');
  backend.typedArrayFromHeap(out).set(data);
  return out;
}
