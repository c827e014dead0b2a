/**
 * An inference worker thread of the pool (inference-pool.ts): its own TF.js with its own WASM
 * backend and heap, models sent to it as in-memory artefacts (topology and weights), inputs read
 * from the pool's shared buffers. Nothing here may load OpenCV (not context-aware: a second
 * instance in a worker thread crashes the process), so imports stay TF.js and the Keras layer
 * classes some converted models name.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import '../formats/keras-layers';
import type { FromWorker, ToWorker, WorkerMemory, WorkerSetup } from './protocol';

const port = parentPort!;
const models = new Map<number, tf.LayersModel | tf.GraphModel>();

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function memory(): WorkerMemory {
  const usage = process.memoryUsage();
  const tfMemory = tf.memory();
  return { heapUsed: usage.heapUsed, external: usage.external, tensors: tfMemory.numTensors, tensorBytes: tfMemory.numBytes, models: models.size };
}

/** Runs `count` NHWC inputs and returns a copy of the raw outputs; every tensor is released here. */
function infer(model: tf.LayersModel | tf.GraphModel, input: Float32Array, count: number, shape: readonly number[]): Float32Array {
  const output = tf.tidy(() => model.predict(tf.tensor(input, [count, shape[1], shape[2], shape[3]], 'float32')) as tf.Tensor);
  try {
    // dataSync copies out of the WASM heap: the copy is ours to transfer.
    return output.dataSync() as Float32Array;
  } finally {
    output.dispose();
  }
}

const shapes = new Map<number, number[]>();

async function load(message: Extract<ToWorker, { type: 'load' }>): Promise<void> {
  const started = performance.now();
  let model: tf.LayersModel | tf.GraphModel | undefined;
  try {
    const handler = tf.io.fromMemory(message.artifacts);
    model = message.artifacts.format === 'graph-model' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
    const [h, w, c] = message.inputShape;
    const shape = [1, h, w, c];
    const elements = h * w * c;
    // Each probe alone, as frames come: this warms the kernels up and gives the pool the numbers to check.
    const parts: Float32Array[] = [];
    for (let i = 0; i < message.probeCount; i++) parts.push(infer(model, message.probes.subarray(i * elements, (i + 1) * elements), 1, shape));
    const outputs = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.forEach((p, i) => outputs.set(p, i * p.length));
    models.get(message.model)?.dispose();
    models.set(message.model, model);
    shapes.set(message.model, shape);
    send({ type: 'loaded', model: message.model, outputs, ms: performance.now() - started, memory: memory() }, [outputs.buffer]);
  } catch (err) {
    model?.dispose();
    send({ type: 'loadFailed', model: message.model, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
  }
}

function run(message: Extract<ToWorker, { type: 'run' }>): void {
  const model = models.get(message.model);
  if (!model) return send({ type: 'runFailed', job: message.job, error: `model ${message.model} is not loaded in this worker` });
  const started = performance.now();
  try {
    const output = infer(model, message.input, message.count, shapes.get(message.model)!);
    send({ type: 'ran', job: message.job, output, ms: performance.now() - started }, [output.buffer as ArrayBuffer]);
  } catch (err) {
    send({ type: 'runFailed', job: message.job, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
  }
}

/** Messages are handled one at a time, in the order sent: a drop sent after a run is done after it. */
let queue: Promise<void> = Promise.resolve();

function handle(message: ToWorker): Promise<void> | void {
  switch (message.type) {
    case 'load':
      return load(message);
    case 'run':
      return run(message);
    case 'drop':
      models.get(message.model)?.dispose();
      models.delete(message.model);
      shapes.delete(message.model);
      return;
    case 'memory':
      return send({ type: 'memory', ask: message.ask, memory: memory() });
  }
}

async function start(): Promise<void> {
  const setup = workerData as WorkerSetup;
  try {
    if (setup.backend === 'wasm') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-backend-wasm');
    }
    if (!(await tf.setBackend(setup.backend))) throw new Error(`the ${setup.backend} backend did not start`);
    await tf.ready();
  } catch (err) {
    send({ type: 'fatal', error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
    return;
  }
  port.on('message', (message: ToWorker) => {
    // A message that fails to be handled must not stop the ones after it: the pool hears of it
    // as a failed run or load where it can, and the chain goes on.
    queue = queue
      .then(() => handle(message))
      .catch((err: unknown) => {
        const error = err instanceof Error ? err.message.split('\n')[0] : String(err);
        if (message.type === 'run') send({ type: 'runFailed', job: message.job, error });
        else if (message.type === 'load') send({ type: 'loadFailed', model: message.model, error });
      });
  });
  send({ type: 'ready', backend: tf.getBackend(), memory: memory() });
}

void start();
