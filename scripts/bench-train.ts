/**
 * Training throughput of the seed's MNIST CNN (conv32-pool-conv64-pool-dense512-dense10, 28x28
 * grayscale, batch 64, Adam), each pinned to one core with taskset: edgesight on the WASM
 * backend (with its gradient kernels), TF.js's pure-JS cpu backend, and PyTorch CPU on one
 * thread (../shared/anchors/python_train.py). Prints samples/s side by side.
 *   npm run bench:train [-- --steps 30 --cpu-steps 1]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/model/backend';
import { seedCnn } from '../src/train/architectures';
import { registerWasmTrainingKernels } from '../src/train/wasm-gradients';
import { seededRandom } from '../src/util/random';

const BATCH = 64;

async function measure(backend: 'wasm' | 'cpu', steps: number): Promise<number> {
  await selectBackend(backend);
  if (backend === 'wasm') registerWasmTrainingKernels();
  const model = seedCnn({ height: 28, width: 28, channels: 1, classes: 10, seed: 1 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const random = seededRandom(2);
  const x = tf.tensor4d(Float32Array.from({ length: BATCH * 28 * 28 }, random), [BATCH, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, () => Math.floor(random() * 10)), 'int32'), 10).toFloat();
  await model.trainOnBatch(x, y); // kernel set-up and first allocations
  const started = performance.now();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  return (steps * BATCH) / ((performance.now() - started) / 1000);
}

function child(args: string[]): string {
  const result = spawnSync('taskset', ['-c', '0', ...args], { encoding: 'utf8' });
  if (result.status !== 0) return `failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-1)[0]}`;
  return /samples_per_s=([\d.]+)/.exec(result.stdout)?.[1] ?? `no result: ${result.stdout.trim()}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { measure: { type: 'string' }, steps: { type: 'string', default: '30' }, 'cpu-steps': { type: 'string', default: '1' } } });
  if (values.measure === 'wasm' || values.measure === 'cpu') {
    const steps = Number(values.measure === 'cpu' ? values['cpu-steps'] : values.steps);
    console.log(`samples_per_s=${(await measure(values.measure, steps)).toFixed(1)}`);
    return;
  }
  const me = path.join(__dirname, 'bench-train.js');
  console.log('seed-cnn 28x28x1, batch 64, Adam; each pinned to CPU 0 (taskset -c 0)');
  const wasm = child([process.execPath, me, '--measure', 'wasm', '--steps', values.steps!]);
  console.log(`edgesight, TF.js WASM backend + edgesight gradient kernels: ${wasm} samples/s  (goal: 300)`);
  const anchor = path.resolve(__dirname, '..', '..', '..', 'shared', 'anchors', 'python_train.py');
  const torch = fs.existsSync(anchor) ? child(['/usr/bin/python3', anchor]) : `not run: ${anchor} not found`;
  console.log(`PyTorch CPU, one thread (python_train.py):               ${torch} samples/s`);
  const cpu = child([process.execPath, me, '--measure', 'cpu', '--cpu-steps', values['cpu-steps']!]);
  console.log(`TF.js cpu backend (pure JS):                              ${cpu} samples/s`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
