import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cv, type Mat } from '../../vision/cv';
import type { InferenceEngine } from './inference-engine';

type Net = ReturnType<typeof cv.readNetFromONNX>;

/**
 * Reads ONNX bytes into OpenCV DNN. The binding (7.1.2) reads ONNX from a path only, so the
 * bytes go to a file in a private temporary directory (mode 0700) that is removed once read.
 * The read runs on the libuv pool.
 */
export async function readOnnxNet(onnx: Uint8Array): Promise<Net> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'edgesight-onnx-'));
  try {
    const file = path.join(dir, 'model.onnx');
    await fs.promises.writeFile(file, onnx, { mode: 0o600 });
    return await cv.readNetFromONNXAsync(file);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** Reads an ONNX file into OpenCV DNN, on the libuv pool. */
export function readOnnxNetFile(file: string): Promise<Net> {
  return cv.readNetFromONNXAsync(file);
}

/** The thread count last given to OpenCV (0: its default, which it starts with). */
let appliedThreads = 0;

/**
 * Sets OpenCV's own thread pool size, which DNN layers use (0: OpenCV's default, every core).
 * Process-wide: the last call wins. cv.setNumThreads tears the pool (TBB's arena here) down and
 * builds it again at every call, under any parallel work in flight on another thread: called at
 * a hot-swap while the serving model ran forwardAsync, it crashed the daemon (SIGSEGV in libtbb).
 * So OpenCV is told only of a change, which in the daemon means at most once, at start, before
 * capture and inference begin (model.threads does not change while it runs).
 */
export function setOpenCvThreads(threads: number): void {
  const wanted = threads > 0 ? threads : 0;
  if (wanted === appliedThreads) return;
  appliedThreads = wanted;
  cv.setNumThreads(wanted > 0 ? wanted : -1);
}

/**
 * A network in OpenCV DNN whose input is NCHW. The preprocessor's NHWC values become the NCHW
 * blob in native code (blobFromImages over Mats that view the input, no copy in JS); runAsync
 * makes the blob, sets it and runs the forward pass on the libuv pool, so the main thread only
 * copies out the scores.
 */
export class OpenCvEngine implements InferenceEngine {
  readonly name = 'opencv' as const;
  private readonly size: InstanceType<typeof cv.Size>;
  private readonly mean = new cv.Vec3(0, 0, 0);
  private readonly matType: number;
  private readonly bytesPerImage: number;
  /** Settles when the previous runAsync has: a net holds one input at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  /** runAsync calls not yet settled: a synchronous run meanwhile would swap the net's input under them. */
  private pending = 0;

  constructor(private readonly net: Net, private readonly input: readonly [number, number, number], readonly units: number) {
    const [h, w, c] = input;
    this.size = new cv.Size(w, h);
    this.matType = c === 3 ? cv.CV_32FC3 : cv.CV_32FC1;
    this.bytesPerImage = h * w * c * 4;
  }

  run(input: Float32Array, count: number): Float32Array {
    if (this.pending > 0) throw new Error('OpenCV DNN: a synchronous run while an asynchronous one is in flight on the same network');
    const { images, bytes } = this.views(input, count);
    let blob: Mat | undefined;
    let out: Mat | undefined;
    try {
      blob = cv.blobFromImages(images, 1, this.size, this.mean, false, false, cv.CV_32F);
      this.net.setInput(blob);
      out = this.net.forward();
      return this.scoresOf(out, count);
    } finally {
      for (const m of images) m.release();
      blob?.release();
      out?.release();
      // The Mats viewed these bytes: they stay referenced until the Mats are gone.
      void bytes;
    }
  }

  runAsync(input: Float32Array, count: number): Promise<Float32Array> {
    this.pending++;
    const run = this.tail.then(() => this.runOnPool(input, count)).finally(() => this.pending--);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async runOnPool(input: Float32Array, count: number): Promise<Float32Array> {
    const { images, bytes } = this.views(input, count);
    let blob: Mat | undefined;
    let out: Mat | undefined;
    try {
      blob = await cv.blobFromImagesAsync(images, 1, this.size, this.mean, false, false, cv.CV_32F);
      await this.net.setInputAsync(blob);
      out = await this.net.forwardAsync();
      return this.scoresOf(out, count);
    } finally {
      for (const m of images) m.release();
      blob?.release();
      out?.release();
      // The Mats viewed these bytes: they stay referenced until the Mats are gone.
      void bytes;
    }
  }

  /**
   * One Mat per image over the caller's values, without a copy: the binding's
   * `new Mat(rows, cols, type, buffer)` wraps the memory, where `new Mat(buffer, rows, cols,
   * type)` copies it (checked: a write to the buffer shows through the first only). The Mats
   * must not outlive the bytes: they are released before the run returns, and `input` is the
   * caller's to keep unchanged until then.
   */
  private views(input: Float32Array, count: number): { images: Mat[]; bytes: Buffer } {
    const [h, w] = this.input;
    if (input.length < count * (this.bytesPerImage / 4)) throw new Error(`input holds ${input.length} values, ${count} images need ${count * (this.bytesPerImage / 4)}`);
    const bytes = Buffer.from(input.buffer, input.byteOffset, count * this.bytesPerImage);
    const images: Mat[] = [];
    for (let i = 0; i < count; i++) images.push(new cv.Mat(h, w, this.matType, bytes.subarray(i * this.bytesPerImage, (i + 1) * this.bytesPerImage)));
    return { images, bytes };
  }

  private scoresOf(out: Mat, count: number): Float32Array {
    const expected = count * this.units;
    // The forward output can be a view into the net's buffers, which getData refuses: copy first.
    const dense = out.copy();
    try {
      const data = dense.getData();
      if (data.length !== expected * 4) throw new Error(`OpenCV DNN gave ${data.length / 4} outputs for ${count} x ${this.units}`);
      return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
    } finally {
      dense.release();
    }
  }

  /** OpenCV frees the network when the last reference goes; a run in flight holds its own. */
  dispose(): void {}
}
