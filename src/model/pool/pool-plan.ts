import * as os from 'node:os';
import type { EngineName } from '../engine/inference-engine';

/** pipeline.workers: `auto`, or how many inference workers (1: inference stays on the main thread). */
export type WorkersSetting = 'auto' | number;

/**
 * Below this many ms per inference, handing a frame to a worker thread and its scores back
 * (a message each way, a wake-up of the other thread) costs about as much as it saves, and the
 * extra WASM heap and model copy are not worth it: the default 28x28 model takes ~0.3 ms.
 */
export const FAST_MODEL_MS = 4;

/**
 * What a worker holds for a model, estimated from its weight bytes: TF.js and a V8 isolate
 * (~40 MB), and a WASM heap that grows by doubling while the weights are copied in, to about
 * three times their size (measured: the 170 MB seed CNN 150x150 ends at a 510 MB heap).
 */
export function workerBytesFor(weightBytes: number): number {
  return 40 * 1048576 + 3 * weightBytes;
}

/** The share of the memory available now that auto lets the workers take. */
const WORKER_MEMORY_SHARE = 0.5;

/** How many inference workers serve a model, and why, for the log, status and doctor. */
export interface PoolPlan {
  /** 1: in-process on the main thread, as without a pool. */
  workers: number;
  why: string;
}

/** Cores left for inference: every core but one, which capture, the server and the event loop share. */
export function workerCores(cores = os.availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/**
 * The workers a model gets. OpenCV DNN already spreads one inference over every core with its
 * own thread pool, and so does tfjs-node's TensorFlow; neither runs in a worker thread (the
 * OpenCV binding is not context-aware), so both stay in-process. TF.js WASM runs one thread in
 * Node: `auto` gives it a worker per spare core, unless the model is so fast (`inferMs` measured
 * at load) that the hand-off would cost more than it saves, or the copies of the model would
 * take more than half the memory available. A number is taken as asked. Either way, more than
 * one worker only when their copies fit in `roomBytes`, what is left under the cgroup's memory
 * limit (undefined: no limit): past it the kernel kills the whole daemon.
 */
export function planWorkers(setting: WorkersSetting, engine: EngineName, tfBackend: string | undefined, inferMs: number | undefined, cores = workerCores(), weightBytes = 0, availableBytes = os.freemem(), roomBytes?: number): PoolPlan {
  const plan = planByCores(setting, engine, tfBackend, inferMs, cores, weightBytes, availableBytes);
  if (plan.workers <= 1 || roomBytes === undefined) return plan;
  const need = plan.workers * workerBytesFor(weightBytes);
  if (need <= roomBytes) return plan;
  return { workers: 1, why: `${plan.workers} workers would take ~${mb(need)} MB (each its own copy of the model), more than the ${mb(Math.max(0, roomBytes))} MB left under the memory limit` };
}

function planByCores(setting: WorkersSetting, engine: EngineName, tfBackend: string | undefined, inferMs: number | undefined, cores: number, weightBytes: number, availableBytes: number): PoolPlan {
  if (engine === 'opencv') return { workers: 1, why: 'OpenCV DNN uses every core through its own thread pool' };
  if (setting !== 'auto') return { workers: setting, why: `pipeline.workers ${setting}` };
  if (tfBackend === 'tensorflow') return { workers: 1, why: 'auto: tfjs-node uses every core through its own thread pool' };
  if (cores < 2) return { workers: 1, why: `auto: ${os.availableParallelism()} cores, one left for capture and the server` };
  if (inferMs !== undefined && inferMs < FAST_MODEL_MS) return { workers: 1, why: `auto: ${inferMs.toFixed(2)} ms per inference, under ${FAST_MODEL_MS} ms, where a hand-off to a worker costs more than it saves` };
  const need = cores * workerBytesFor(weightBytes);
  if (need > WORKER_MEMORY_SHARE * availableBytes) return { workers: 1, why: `auto: ${cores} workers would take ~${mb(need)} MB (each its own copy of the model), more than half of the ${mb(availableBytes)} MB available` };
  return { workers: cores, why: `auto: one per core left after capture and the server${inferMs === undefined ? '' : ` (${inferMs.toFixed(1)} ms per inference)`}` };
}

function mb(bytes: number): number {
  return Math.round(bytes / 1048576);
}
