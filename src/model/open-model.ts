import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../config/load';
import type { Config } from '../config/schema';
import { errorMessage, ModelPackageError } from '../util/errors';
import type { Logger } from '../util/logger';
import { selectBackend, type BackendChoice } from './backend';
import { Classifier } from './classifier';
import { bareModelFileOf } from './bare-model-contract';
import { convertInChild, removeConversion } from './engine/convert-in-child';
import { engineFromConversion, selectEngine, type EngineOptions, type TfjsVerdict } from './engine/select-engine';
import { isOnnxFileName } from './formats/onnx-file';
import { MemoryBudget } from './memory-budget';
import { loadModelPackage, releaseTfjsModel, type LoadedModel } from './model-package';
import { serveOnPool, type PoolServing } from './pool/serve-on-pool';

/**
 * A relative model path is looked up in the working directory, then in the install
 * (models/default). It names a package directory, a Keras file, or a directory holding one.
 */
export function resolveModelDir(configured: string): string {
  if (path.isAbsolute(configured) || fs.existsSync(configured)) return path.resolve(configured);
  const inInstall = path.join(projectRoot, configured);
  if (fs.existsSync(inInstall)) return inInstall;
  throw new ModelPackageError(path.resolve(configured), 'does not exist');
}

/**
 * Picks the backend and opens the first package that loads, checks and warms up: each of
 * `candidates` in order (the daemon passes the state directory's active, then previous), then
 * model.path. One passed over is logged as an error naming the file and the problem, so a
 * broken package is never served silently and never stops the daemon while another loads.
 */
export async function openClassifier(config: Config, log: Logger, candidates: string[] = [], pool?: PoolServing): Promise<{ classifier: Classifier; backend: BackendChoice }> {
  const backend = await selectBackend(config['model.backend']);
  if (backend.skipped.length) log.debug({ skipped: backend.skipped }, 'backends passed over');
  const engine: EngineOptions = { preference: config['model.backend'], threads: config['model.threads'] };
  // A model too big for the cgroup's memory limit is refused with the numbers, not OOM-killed
  // (systemd would restart into the same death every few seconds).
  const memory = new MemoryBudget(config['model.backend']);
  for (const dir of candidates) {
    try {
      memory.checkStart(dir);
      return { classifier: await openPackage(dir, engine, log, pool), backend };
    } catch (err) {
      log.error({ model: dir, err: errorMessage(err) }, `model: ${dir} cannot be served, trying the next one: ${errorMessage(err)}`);
    }
  }
  const configured = resolveModelDir(config['model.path']);
  memory.checkStart(configured);
  const classifier = await openPackage(configured, engine, log, pool);
  if (candidates.length) log.warn({ model: configured }, `model: serving ${configured} (model.path) because no model in the state directory loads`);
  return { classifier, backend };
}

/** Loads a package (or Keras or ONNX file) into a classifier on its engine, warmed up; says which defaults a bare model file took. */
export async function openPackage(dir: string, engine: EngineOptions, log: Logger, pool?: PoolServing): Promise<Classifier> {
  const converted = await openConverted(dir, engine, log);
  if (converted instanceof Classifier) return converted;
  const loaded = await loadModelPackage(dir);
  sayDefaults(loaded, log);
  return classifierFor(loaded, converted ? { ...engine, stayOnTfjs: converted.stayOnTfjs } : engine, log, pool);
}

/** A bare Keras or ONNX file says nothing of labels or preprocessing: says which defaults were taken. */
function sayDefaults(loaded: LoadedModel, log: Logger): void {
  if (loaded.keras) log.info({ model: loaded.dir, format: loaded.keras.format, keras: loaded.keras.kerasVersion }, `model: ${loaded.dir} (Keras ${loaded.keras.kerasVersion}): ${loaded.keras.notes.join('; ') || 'labels and preprocessing from beside the file'}`);
  if (loaded.onnx) log.info({ model: loaded.dir, format: 'onnx' }, `model: ${loaded.dir} (ONNX, ${loaded.onnx.layout.toUpperCase()} input): ${loaded.onnx.notes.join('; ') || 'labels and preprocessing from beside the file'}`);
}

/**
 * With model.backend auto or opencv, a TF.js package or Keras file is converted in a child
 * process (convertInChild) and served on OpenCV DNN without this process ever loading it into
 * TF.js. Otherwise the caller loads it here: with `stayOnTfjs` when the converted model was
 * examined and is not to be served on OpenCV (it failed the check, or TF.js is the faster), so
 * that it is not converted and timed a second time; undefined when it could not be readied
 * (the load here then decides as always).
 */
async function openConverted(dir: string, engine: EngineOptions, log: Logger): Promise<Classifier | { stayOnTfjs: TfjsVerdict } | undefined> {
  if (engine.preference !== 'auto' && engine.preference !== 'opencv') return undefined;
  const file = bareModelFileOf(path.resolve(dir));
  if (file && isOnnxFileName(file)) return undefined;
  const conversion = await convertInChild(dir, engine.preference);
  // Killed: the same load here would take the daemon, and the model it serves, down with it.
  if (!conversion.ok && conversion.fatal) throw new ModelPackageError(path.resolve(dir), conversion.why);
  if (!conversion.ok) {
    log.debug({ model: dir, reason: conversion.why }, `model: not readied for OpenCV DNN in a separate process (${conversion.why}); loading it here`);
    return undefined;
  }
  let selection: Awaited<ReturnType<typeof engineFromConversion>>;
  try {
    selection = await engineFromConversion(conversion, engine, log);
  } finally {
    await removeConversion(conversion);
  }
  if ('stayOnTfjs' in selection) return selection;
  sayDefaults(conversion.model, log);
  return warmedUp(new Classifier(conversion.model, selection.engine, selection.summary));
}

/**
 * A warmed-up classifier on the engine model.backend asks for (OpenCV DNN only when the model
 * converts and passes the probe check, see selectEngine), on the inference pool's workers when
 * `pool` is given and pipeline.workers gives the model more than one (see serveOnPool); the
 * model is disposed on failure.
 */
export async function classifierFor(loaded: LoadedModel, engine: EngineOptions, log: Logger, pool?: PoolServing): Promise<Classifier> {
  let classifier: Classifier;
  try {
    let selection = await selectEngine(loaded, engine, log);
    if (pool) selection = await serveOnPool(loaded, selection, pool, log);
    if (selection.engine.name === 'opencv') releaseTfjsModel(loaded);
    classifier = new Classifier(loaded, selection.engine, selection.summary);
  } catch (err) {
    loaded.model?.dispose();
    throw err;
  }
  return warmedUp(classifier);
}

/** The classifier after one warm-up run; disposed if that fails. */
function warmedUp(classifier: Classifier): Classifier {
  try {
    classifier.warmUp();
    return classifier;
  } catch (err) {
    classifier.dispose();
    throw err;
  }
}
