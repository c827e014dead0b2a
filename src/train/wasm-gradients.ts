import * as tf from '@tensorflow/tfjs';

/**
 * Gradient kernels the WASM backend lacks, so that it can train (it ships Conv2D and
 * Conv2DBackpropInput but not Conv2DBackpropFilter). Plain JS over views of the WASM heap:
 * no copies in or out. Checked numerically against the cpu backend in
 * test/train/wasm-gradients.test.ts.
 */
export function registerWasmTrainingKernels(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc });
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

interface Args {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { strides: number | [number, number]; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
}

/**
 * dW[kh, kw, ci, co] = sum over batch and output positions of x[b, iy, ix, ci] * dy[b, oy, ox, co]
 * with iy = oy * strideH + kh - padTop (likewise ix). Any stride and padding; NHWC only
 * (the layers API's default); dilation is always 1 here because TF.js refuses gradients of
 * dilated convolutions.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: Args): tf.TensorInfo {
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (wasm): only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  // makeOutput may grow the WASM memory, which detaches earlier views: take views after it.
  const out = backend.makeOutput(attrs.filterShape, 'float32');
  const dW = backend.typedArrayFromHeap(out);
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(dy);
  dW.fill(0);

  const cinCout = inChannels * outChannels;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * outChannels;
        for (let kh = 0; kh < filterHeight; kh++) {
          const iy = oy * strideHeight + kh - top;
          if (iy < 0 || iy >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const ix = ox * strideWidth + kw - left;
            if (ix < 0 || ix >= inWidth) continue;
            const xBase = ((b * inHeight + iy) * inWidth + ix) * inChannels;
            const wBase = (kh * filterWidth + kw) * cinCout;
            for (let ci = 0; ci < inChannels; ci++) {
              const xval = xv[xBase + ci];
              // After ReLU most inputs are zero: skipping them is the biggest saving here.
              if (xval === 0) continue;
              const wRow = wBase + ci * outChannels;
              for (let co = 0; co < outChannels; co++) dW[wRow + co] += xval * dyv[dyBase + co];
            }
          }
        }
      }
    }
  }
  return out;
}
