/**
 * Training throughput, each trainer pinned to one core with taskset (-c 0), on the same batch:
 *  - `edgesight train`'s defaults: the compact network at 96x96x3, batch 32, Adam 1e-3, 4 classes: edgesight on
 *    the WASM backend (its gradient kernels and fused batch norm, as `edgesight train` runs),
 *    and PyTorch on one thread running the same architecture (bench/reference/train_bench.py,
 *    NCHW and channels-last); the same for compact-s2 (compact with a stride-2 first convolution,
 *    the default architecture from 64x64 up);
 *  - the seed's MNIST CNN (conv32-pool-conv64-pool-dense512-dense10, 28x28x1, batch 64, Adam):
 *    edgesight WASM, PyTorch, and TF.js's pure-JS cpu backend;
 *  - for each, `edgesight train --engine torch`'s steps: the same network in edgesight's PyTorch
 *    engine process (channels-last), the batch handed to it at every step as training does.
 * The batch (seeded uniform values in [0, 1), labels cycling through the classes) is written to
 * a file that both sides read. Training steps only (no batch assembly), after one warm-up step
 * on TF.js and two in PyTorch and its engine (train_bench.py's).
 *   npm run bench:train [-- --steps 10 --cpu-steps 1]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/model/backend';
import { buildArchitecture } from '../src/train/architectures';
import { fuseBatchNorm } from '../src/train/batch-norm';
import { TorchSteps } from '../src/train/torch/engine';
import { registerWasmTrainingKernels } from '../src/train/wasm-gradients';
import { seededRandom } from '../src/util/random';

interface Case {
  arch: 'compact' | 'compact-s2' | 'seed-cnn';
  size: number;
  channels: number;
  classes: number;
  batch: number;
}

const COMPACT: Case = { arch: 'compact', size: 96, channels: 3, classes: 4, batch: 32 };
const COMPACT_S2: Case = { ...COMPACT, arch: 'compact-s2' };
const SEED: Case = { arch: 'seed-cnn', size: 28, channels: 1, classes: 10, batch: 64 };
const TORCH_SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'train_bench.py');
const PYTHON = '/usr/bin/python3';

/** The batch as float32 NHWC images followed by int32 labels. */
function writeBatch(c: Case, file: string): void {
  const random = seededRandom(2);
  const images = Float32Array.from({ length: c.batch * c.size * c.size * c.channels }, random);
  const labels = Int32Array.from({ length: c.batch }, (_, i) => i % c.classes);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(images.buffer), Buffer.from(labels.buffer)]));
}

function readBatch(c: Case, file: string): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const bytes = fs.readFileSync(file);
  const n = c.batch * c.size * c.size * c.channels;
  const images = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * 4));
  const labels = new Int32Array(bytes.buffer.slice(bytes.byteOffset + n * 4, bytes.byteOffset + n * 4 + c.batch * 4));
  return { x: tf.tensor4d(images, [c.batch, c.size, c.size, c.channels]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), c.classes).toFloat() as tf.Tensor2D };
}

/** Samples/s by the wall clock and by the process's CPU time (the fairer one while others share the core). */
async function measure(backend: 'wasm' | 'cpu', c: Case, file: string, steps: number): Promise<{ wall: number; cpu: number }> {
  await selectBackend(backend);
  if (backend === 'wasm') registerWasmTrainingKernels();
  const spec = { height: c.size, width: c.size, channels: c.channels, classes: c.classes, seed: 1 };
  const model = buildArchitecture(c.arch, spec);
  fuseBatchNorm(model); // as the trainer does (a no-op off WASM)
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const { x, y } = readBatch(c, file);
  await model.trainOnBatch(x, y); // kernel set-up and first allocations
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const used = process.cpuUsage(cpu);
  return { wall: (steps * c.batch) / ((performance.now() - started) / 1000), cpu: (steps * c.batch) / ((used.user + used.system) / 1e6) };
}

/**
 * The same steps through `edgesight train`'s PyTorch engine (torch/engine.ts): the TF.js-built
 * network rebuilt in the engine process, the batch handed over at every step as training hands
 * each batch over. CPU time is this process's plus the engine's.
 */
async function measureTorchEngine(c: Case, file: string, steps: number): Promise<{ wall: number; cpu: number }> {
  await selectBackend('wasm');
  const spec = { height: c.size, width: c.size, channels: c.channels, classes: c.classes, seed: 1 };
  const model = buildArchitecture(c.arch, spec);
  const { x, y } = readBatch(c, file);
  const xs = x.dataSync() as Float32Array;
  const ys = y.dataSync() as Float32Array;
  const engine = await TorchSteps.start(model, { optimizer: 'adam', learningRate: 1e-3, units: c.classes }, { seed: 1 });
  try {
    const pid = (engine as unknown as { child: { pid: number } }).child.pid;
    const engineCpu = () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((t, v) => t + Number(v), 0) / 100;
    // Two warm-up steps, as train_bench.py gives PyTorch (oneDNN settles its kernels in the first ones).
    for (let i = 0; i < 2; i++) await engine.step(xs, ys, c.batch, 1e-3);
    const started = performance.now();
    const cpu = process.cpuUsage();
    const engineStart = engineCpu();
    for (let i = 0; i < steps; i++) await engine.step(xs, ys, c.batch, 1e-3);
    const used = process.cpuUsage(cpu);
    const seconds = (used.user + used.system) / 1e6 + engineCpu() - engineStart;
    return { wall: (steps * c.batch) / ((performance.now() - started) / 1000), cpu: (steps * c.batch) / seconds };
  } finally {
    await engine.dispose();
  }
}

function child(args: string[]): string {
  const result = spawnSync('taskset', ['-c', '0', ...args], { encoding: 'utf8' });
  if (result.error) return `failed: ${result.error.message}`;
  if (result.status !== 0) return `failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-1)[0]}`;
  const wall = /(?:^|\s)samples_per_s=([\d.]+)/.exec(result.stdout)?.[1];
  const cpu = /cpu_samples_per_s=([\d.]+)/.exec(result.stdout)?.[1];
  return wall ? `${wall.padStart(6)} (CPU time: ${cpu})` : `no result: ${result.stdout.trim()}`;
}

function caseArgs(c: Case): string[] {
  return ['--arch', c.arch, '--size', String(c.size), '--channels', String(c.channels), '--classes', String(c.classes), '--batch', String(c.batch)];
}

/** Why PyTorch cannot run here, or undefined when it can. */
function torchMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `unavailable: ${PYTHON} cannot import torch (install it with scripts/setup.sh --bench, i.e. apt-get install python3-torch)`;
  return undefined;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { measure: { type: 'string' }, arch: { type: 'string' }, data: { type: 'string' }, steps: { type: 'string', default: '10' }, 'cpu-steps': { type: 'string', default: '1' } } });
  if (values.measure === 'wasm' || values.measure === 'cpu' || values.measure === 'torch') {
    const c = [COMPACT, COMPACT_S2, SEED].find((k) => k.arch === values.arch) ?? SEED;
    const steps = Number(values.measure === 'cpu' ? values['cpu-steps'] : values.steps);
    const r = values.measure === 'torch' ? await measureTorchEngine(c, values.data!, steps) : await measure(values.measure, c, values.data!, steps);
    console.log(`samples_per_s=${r.wall.toFixed(1)} cpu_samples_per_s=${r.cpu.toFixed(1)}`);
    return;
  }
  const me = path.join(__dirname, 'bench-train.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgesight-bench-train-'));
  const missing = torchMissing();
  const torchVersion = missing ? undefined : spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
  try {
    for (const c of [COMPACT, COMPACT_S2, SEED]) {
      const file = path.join(dir, `${c.arch}.bin`);
      writeBatch(c, file);
      const steps = c.arch === 'seed-cnn' ? String(Number(values.steps) * 3) : values.steps!;
      console.log(`\n${c.arch} ${c.size}x${c.size}x${c.channels}, batch ${c.batch}, Adam 1e-3, ${c.classes} classes; each pinned to CPU 0 (taskset -c 0); samples/s by the wall clock (by the process's CPU time)`);
      const wasm = child([process.execPath, me, '--measure', 'wasm', '--arch', c.arch, '--data', file, '--steps', steps]);
      const goal = c.arch === 'seed-cnn' ? '' : `  (goal for the default: 65 (5x compact's 13 before), and at least PyTorch${c.arch === 'compact-s2' ? '; the default from 64x64 up' : ''})`;
      console.log(`  edgesight, TF.js WASM + edgesight kernels:  ${wasm}${goal}`);
      const engine = missing ?? child([process.execPath, me, '--measure', 'torch', '--arch', c.arch, '--data', file, '--steps', steps]);
      console.log(`  edgesight, PyTorch engine (--engine torch): ${engine}`);
      for (const layout of ['NCHW', 'channels-last']) {
        const torch = missing ?? child([PYTHON, TORCH_SCRIPT, ...caseArgs(c), '--data', file, '--steps', steps, ...(layout === 'NCHW' ? [] : ['--channels-last'])]);
        console.log(`  PyTorch ${torchVersion ?? ''}, one thread, ${layout.padEnd(13)}:  ${torch}`);
      }
      if (c.arch === 'seed-cnn') {
        const cpu = child([process.execPath, me, '--measure', 'cpu', '--arch', c.arch, '--data', file, '--cpu-steps', values['cpu-steps']!]);
        console.log(`  TF.js cpu backend (pure JS):                ${cpu}`);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
