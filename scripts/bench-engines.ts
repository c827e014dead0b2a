/**
 * Per-frame inference time of TF.js WASM against OpenCV DNN (the same model converted to ONNX
 * by src/model/onnx), for the default model, the Teachable Machine 2019 MobileNetV2 (224x224)
 * and the seed course's 150x150 CNN (untrained seeded weights: speed only).
 *
 * Method: batch 1, one fixed seeded-random input in the model's value range (the load-time
 * probe). Each engine gets 5 untimed runs, then runs until both 30 runs and 3 s are done;
 * median and p90 of the wall time per run are printed. TF.js is WASM in this process (one
 * thread: its threaded build does not run in Node). OpenCV DNN is timed with cv.setNumThreads
 * 1 and 2, both synchronously (net.forward on the calling thread) and as the pipeline calls it
 * (blobFromImagesAsync + setInputAsync + forwardAsync on the libuv pool); for the latter the
 * main thread's busy time per run (event-loop utilisation) shows what stays on the main thread.
 * The last column is the largest difference of the outputs from TF.js's on the probe inputs.
 *
 * Run: npm run build && node dist/scripts/bench-engines.js [--quick]
 * The machine is whatever it is: print the load average beside the numbers and read them so.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as tf from '@tensorflow/tfjs';
import { writeSeedCnnPackage } from '../src/bench/seed-model';
import { selectBackend } from '../src/model/backend';
import type { InferenceEngine } from '../src/model/engine/inference-engine';
import { OpenCvEngine, readOnnxNet, setOpenCvThreads } from '../src/model/engine/opencv-engine';
import { maxOutputDifference, probeInputs } from '../src/model/engine/probe-check';
import { TfjsEngine } from '../src/model/engine/tfjs-engine';
import { loadModelPackage } from '../src/model/model-package';
import { convertLayersModel } from '../src/model/onnx/convert-layers';
import { cv } from '../src/vision/cv';

const quick = process.argv.includes('--quick');
const MIN_RUNS = quick ? 10 : 30;
const MIN_MS = quick ? 1000 : 3000;

interface Timing {
  median: number;
  p90: number;
  /** Main-thread busy ms per run (async runs only). */
  mainMs?: number;
}

async function time(run: () => unknown | Promise<unknown>, measureMain: boolean): Promise<Timing> {
  for (let i = 0; i < 5; i++) await run();
  const times: number[] = [];
  const started = performance.now();
  const elu0 = performance.eventLoopUtilization();
  while (times.length < MIN_RUNS || performance.now() - started < MIN_MS) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  const elu = performance.eventLoopUtilization(elu0);
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], p90: times[Math.floor(times.length * 0.9)], mainMs: measureMain ? elu.active / times.length : undefined };
}

function fmt(t: Timing): string {
  return `${t.median.toFixed(2).padStart(7)} ${t.p90.toFixed(2).padStart(7)}${t.mainMs === undefined ? '' : `  main ${t.mainMs.toFixed(2)}`}`;
}

async function main(): Promise<void> {
  const backend = await selectBackend('wasm');
  const seedDir = path.join(os.tmpdir(), `edgesight-bench-engines-${process.pid}`);
  await writeSeedCnnPackage(seedDir);
  const root = path.resolve(__dirname, '..', '..');
  const models = [
    { name: 'default (28x28x1)', dir: path.join(root, 'models', 'default') },
    { name: 'TM 2019 MobileNetV2 (224x224x3)', dir: path.join(root, 'test', 'fixtures', 'teachable-machine-2019') },
    { name: 'seed CNN (150x150x3)', dir: seedDir },
  ];
  const v = cv.version;
  console.log(`# bench-engines: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`# TF.js backend ${backend.name}; OpenCV ${v.major}.${v.minor}.${v.revision}; batch 1; ms per inference: median p90${quick ? ' (--quick)' : ''}`);
  for (const m of models) {
    const loaded = await loadModelPackage(m.dir);
    const elements = loaded.inputShape[0] * loaded.inputShape[1] * loaded.inputShape[2];
    const probes = probeInputs(elements, loaded.metadata.preprocess.range);
    const input = probes[0];
    const tfjs = new TfjsEngine(loaded.model!, loaded.inputShape, loaded.outputUnits);
    const converted = convertLayersModel(loaded.model as tf.LayersModel);
    const opencv: InferenceEngine = new OpenCvEngine(await readOnnxNet(converted.onnx), loaded.inputShape, loaded.outputUnits);
    const diff = await maxOutputDifference(tfjs, opencv, probes);
    console.log(`\n${m.name}  (${loaded.parameters.toLocaleString('en-US')} parameters; OpenCV within ${diff.toExponential(1)} of TF.js)`);
    console.log(`  tfjs wasm, 1 thread              ${fmt(await time(() => tfjs.run(input, 1), false))}`);
    for (const threads of [1, 2]) {
      setOpenCvThreads(threads);
      console.log(`  opencv dnn, ${threads} thread${threads > 1 ? 's' : ' '}, sync        ${fmt(await time(() => opencv.run(input, 1), false))}`);
      console.log(`  opencv dnn, ${threads} thread${threads > 1 ? 's' : ' '}, forwardAsync${fmt(await time(() => opencv.runAsync(input, 1), true))}`);
    }
    loaded.model!.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
