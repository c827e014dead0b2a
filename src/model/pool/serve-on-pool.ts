import { errorMessage, ModelPackageError } from '../../util/errors';
import type { Logger } from '../../util/logger';
import { currentBackend } from '../backend';
import type { EngineSelection } from '../engine/select-engine';
import { MAX_OUTPUT_DIFFERENCE, probesFor, timeEngine } from '../engine/probe-check';
import type { LoadedModel } from '../model-package';
import { InferencePool } from './inference-pool';
import { modelArtifacts } from './model-artifacts';
import { PoolEngine } from './pool-engine';
import { planWorkers, workerCores, type PoolPlan, type WorkersSetting } from './pool-plan';

/** The daemon's inference pool and how a model comes onto it. */
export interface PoolServing {
  pool: InferencePool;
  /** pipeline.workers as configured (the pool is sized from it). */
  setting: WorkersSetting;
  /**
   * When the workers cannot take the model: `refuse` it (a hot-swap candidate: the model in
   * service stays) or serve it `in-process` (start-up: a stream on one core beats none).
   */
  onFailure: 'refuse' | 'in-process';
  /**
   * The bytes the workers' copies may take now under the process's memory limit (undefined: no
   * limit). Past it the kernel would kill the daemon, so the model stays on the main thread.
   */
  memoryRoom?: () => number | undefined;
}

/**
 * Puts a model whose engine was just chosen onto the inference pool when its plan says more than
 * one worker: loaded in every worker and checked there against this process's outputs on the
 * probe inputs before the returned engine exists, so a swap to it switches every worker at once.
 * Otherwise (OpenCV DNN, a fast model, one worker) the selection comes back as it was, its
 * summary saying why.
 */
export async function serveOnPool(loaded: LoadedModel, selection: EngineSelection, serving: PoolServing, log?: Logger): Promise<EngineSelection & { plan: PoolPlan }> {
  const { pool, setting } = serving;
  const engine = selection.engine;
  const probes = probesFor(loaded, 2);
  // Timing matters only where it decides: auto, on a TF.js model.
  const inferMs = setting === 'auto' && engine.name === 'tfjs' && loaded.model ? await timeEngine(engine, probes[0]) : undefined;
  // The room is known only here, once the engine is chosen (with auto, most models go to OpenCV DNN and need no workers).
  const plan = planWorkers(setting, engine.name, currentBackend()?.name, inferMs, pool.size, loaded.weightBytes, undefined, serving.memoryRoom?.());
  if (plan.workers <= 1 || engine.name !== 'tfjs' || !loaded.model) {
    log?.info({ model: loaded.dir, workers: 1, reason: plan.why }, `model: inference on the main thread (${plan.why})`);
    return { engine, summary: `${selection.summary}; 1 worker: ${plan.why}`, plan: { workers: 1, why: plan.why } };
  }
  const model = loaded.model;
  const expected = probes.map((p) => engine.run(p, 1).slice());
  const started = performance.now();
  let id: number;
  try {
    id = await pool.register({ name: loaded.dir, artifacts: () => modelArtifacts(model), inputShape: loaded.inputShape, probes, expected, tolerance: MAX_OUTPUT_DIFFERENCE });
  } catch (err) {
    const why = errorMessage(err);
    if (serving.onFailure === 'refuse') throw new ModelPackageError(loaded.dir, `the inference workers cannot serve it: ${why}`);
    log?.error({ model: loaded.dir, err: why }, `model: the inference workers cannot serve it, inference stays on the main thread: ${why}`);
    const fallback = `the inference workers could not take it (${why})`;
    return { engine, summary: `${selection.summary}; 1 worker: ${fallback}`, plan: { workers: 1, why: fallback } };
  }
  const onPool = new PoolEngine(pool, id, engine, (why) => log?.error({ model: loaded.dir }, `model: ${why}`));
  const ms = Math.round(performance.now() - started);
  log?.info({ model: loaded.dir, workers: pool.size, workerBackend: pool.backend, loadMs: ms, reason: plan.why }, `model: on ${pool.size} inference workers (TF.js ${pool.backend} in each, loaded and checked in ${ms} ms; ${plan.why})`);
  return { engine: onPool, summary: `${selection.summary}; ${pool.size} workers, TF.js ${pool.backend} each (${plan.why})`, plan };
}

/**
 * The daemon's pool for pipeline.workers: as many workers as the setting can give a model
 * (auto: the cores left after capture and the server), or none when that is one. The workers
 * themselves start only when a model is put on the pool.
 */
export function poolFor(setting: WorkersSetting, log: Logger): InferencePool | undefined {
  const size = setting === 'auto' ? workerCores() : setting;
  return size > 1 ? new InferencePool(size, log) : undefined;
}
