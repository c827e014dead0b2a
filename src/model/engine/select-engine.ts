import type * as tf from '@tensorflow/tfjs';
import { errorMessage } from '../../util/errors';
import type { Logger } from '../../util/logger';
import type { BackendPreference } from '../../config/backend-preference';
import { tfjsModelOf, type LoadedModel } from '../model-package';
import { ModelPackageError } from '../../util/errors';
import { convertLayersModel, UnconvertibleError } from '../onnx/convert-layers';
import { transposeInput } from '../onnx/transpose-input';
import type { EngineName, InferenceEngine } from './inference-engine';
import type { ChildConversion } from './convert-in-child';
import { OpenCvEngine, readOnnxNet, readOnnxNetFile, setOpenCvThreads } from './opencv-engine';
import { MAX_OUTPUT_DIFFERENCE, maxDifferenceFrom, maxOutputDifference, probesFor, timeEngine } from './probe-check';
import { TfjsEngine } from './tfjs-engine';

/** The engine serving a model and, in one sentence, why (shown by info, doctor, /api/status and the log). */
export interface EngineSelection {
  engine: InferenceEngine;
  summary: string;
}

export interface EngineOptions {
  /** model.backend: opencv asks for OpenCV DNN, auto for the faster of the two, the rest for TF.js. */
  preference: BackendPreference;
  /** OpenCV's thread pool (0: its default, every core). */
  threads: number;
  /** Already decided by the conversion process's check or timing (engineFromConversion): TF.js. */
  stayOnTfjs?: TfjsVerdict;
}

/** Why a converted model stays on TF.js: a reason, or auto's timing that found TF.js the faster. */
export type TfjsVerdict = { why: string } | { ms: Record<EngineName, number>; difference: number };

/**
 * Picks the engine for a loaded model. TF.js always can (it is what loaded the model); OpenCV
 * DNN runs it when the model converts to ONNX, OpenCV reads the result and its outputs on the
 * probe inputs are within MAX_OUTPUT_DIFFERENCE of TF.js's. Anything short of that keeps the
 * model on TF.js, logged with the reason: a model that does not convert is not an error.
 * With `auto` both are timed on a probe and the faster serves.
 */
export async function selectEngine(loaded: LoadedModel, options: EngineOptions, log?: Logger): Promise<EngineSelection> {
  if (loaded.onnx) return onnxFileEngine(loaded, options, log);
  const tfjs = new TfjsEngine(tfjsModelOf(loaded), loaded.inputShape, loaded.outputUnits);
  if (options.preference !== 'opencv' && options.preference !== 'auto') return { engine: tfjs, summary: `tfjs (model.backend ${options.preference})` };
  const stay = (why: string): EngineSelection => {
    log?.info({ model: loaded.dir, engine: 'tfjs', reason: why }, `model: stays on TF.js: ${why}`);
    return { engine: tfjs, summary: `tfjs (${why})` };
  };
  const verdict = options.stayOnTfjs;
  if (verdict) return 'why' in verdict ? stay(verdict.why) : fasterOf(loaded.dir, tfjs, verdict.ms, verdict.difference, options, log);
  if (loaded.format !== 'layers-model') return stay('a TF.js graph model is not converted to ONNX');
  let onnx: Uint8Array;
  try {
    onnx = convertLayersModel(loaded.model as tf.LayersModel).onnx;
  } catch (err) {
    if (err instanceof UnconvertibleError) return stay(`not convertible to ONNX: ${err.message}`);
    throw err;
  }
  setOpenCvThreads(options.threads);
  let opencv: OpenCvEngine;
  try {
    opencv = new OpenCvEngine(await readOnnxNet(onnx), loaded.inputShape, loaded.outputUnits);
  } catch (err) {
    return stay(`OpenCV DNN could not read the converted model: ${errorMessage(err)}`);
  }
  const probes = probesFor(loaded);
  let difference: number;
  try {
    difference = await maxOutputDifference(tfjs, opencv, probes);
  } catch (err) {
    return stay(`OpenCV DNN failed on the probe inputs: ${errorMessage(err)}`);
  }
  if (!(difference <= MAX_OUTPUT_DIFFERENCE)) return stay(differenceTooLarge(difference));
  if (options.preference === 'opencv') return onOpenCv(loaded.dir, opencv, difference, options, log);
  const ms: Record<EngineName, number> = { tfjs: await timeEngine(tfjs, probes[0]), opencv: await timeEngine(opencv, probes[0]) };
  return fasterOf(loaded.dir, ms.opencv < ms.tfjs ? opencv : tfjs, ms, difference, options, log);
}

/**
 * The OpenCV DNN engine for a model the conversion process readied (convertInChild): its ONNX
 * read here, checked against the outputs TF.js gave there on the same probe inputs and, with
 * auto, timed against TF.js's time there. Otherwise `stayOnTfjs` says why: the caller loads
 * the model here and selectEngine serves it on TF.js with that verdict, without converting and
 * timing it again.
 */
export async function engineFromConversion(conversion: ChildConversion, options: EngineOptions, log?: Logger): Promise<EngineSelection | { stayOnTfjs: TfjsVerdict }> {
  const loaded = conversion.model;
  setOpenCvThreads(options.threads);
  let opencv: OpenCvEngine;
  try {
    opencv = new OpenCvEngine(await readOnnxNetFile(conversion.onnxFile), loaded.inputShape, loaded.outputUnits);
  } catch (err) {
    return { stayOnTfjs: { why: `OpenCV DNN could not read the converted model: ${errorMessage(err)}` } };
  }
  const probes = probesFor(loaded);
  let verdict: TfjsVerdict;
  try {
    const difference = await maxDifferenceFrom(conversion.expected, opencv, probes);
    if (!(difference <= MAX_OUTPUT_DIFFERENCE)) verdict = { why: differenceTooLarge(difference) };
    else if (options.preference === 'opencv') return onOpenCv(loaded.dir, opencv, difference, options, log);
    else if (conversion.tfjsMs === undefined) verdict = { why: 'the conversion process did not time TF.js, so auto could not compare the two' };
    else {
      const ms: Record<EngineName, number> = { tfjs: conversion.tfjsMs, opencv: await timeEngine(opencv, probes[0]) };
      if (ms.opencv < ms.tfjs) return fasterOf(loaded.dir, opencv, ms, difference, options, log);
      verdict = { ms, difference };
    }
  } catch (err) {
    verdict = { why: `OpenCV DNN failed on the probe inputs: ${errorMessage(err)}` };
  }
  opencv.dispose();
  return { stayOnTfjs: verdict };
}

function differenceTooLarge(difference: number): string {
  return `OpenCV DNN's outputs differ from TF.js's by ${difference.toExponential(1)} on the probe inputs (limit ${MAX_OUTPUT_DIFFERENCE})`;
}

function threadsOf(options: EngineOptions): string {
  return options.threads > 0 ? `${options.threads} thread${options.threads > 1 ? 's' : ''}` : 'default threads';
}

/** model.backend opencv: OpenCV DNN, once its outputs passed the check. */
function onOpenCv(dir: string, opencv: OpenCvEngine, difference: number, options: EngineOptions, log?: Logger): EngineSelection {
  const diff = difference.toExponential(1);
  log?.info({ model: dir, engine: 'opencv', maxDifference: difference }, `model: on OpenCV DNN (${threadsOf(options)}), outputs within ${diff} of TF.js`);
  return { engine: opencv, summary: `opencv (${threadsOf(options)}; within ${diff} of TF.js)` };
}

/** model.backend auto: `faster`, the engine `ms` found the faster, said so with both times. */
function fasterOf(dir: string, faster: InferenceEngine, ms: Record<EngineName, number>, difference: number, options: EngineOptions, log?: Logger): EngineSelection {
  const diff = difference.toExponential(1);
  const winner = faster.name;
  const times = `opencv ${ms.opencv.toFixed(2)} ms (${threadsOf(options)}), tfjs ${ms.tfjs.toFixed(2)} ms per inference`;
  log?.info({ model: dir, engine: winner, opencvMs: ms.opencv, tfjsMs: ms.tfjs, maxDifference: difference }, `model: on ${winner === 'opencv' ? 'OpenCV DNN' : 'TF.js'}, the faster: ${times}; OpenCV within ${diff} of TF.js`);
  return { engine: faster, summary: `${winner} (auto: ${times}; within ${diff})` };
}

/**
 * A user's ONNX file runs on OpenCV DNN whatever model.backend says (TF.js cannot read it, so
 * there is no reference to check it against). One run on a blank input checks that it loads,
 * takes the input its graph declares and gives one output per label.
 */
async function onnxFileEngine(loaded: LoadedModel, options: EngineOptions, log?: Logger): Promise<EngineSelection> {
  const onnx = loaded.onnx!;
  const [h, w, c] = loaded.inputShape;
  setOpenCvThreads(options.threads);
  let engine: OpenCvEngine;
  try {
    // The engine feeds NCHW; an NHWC graph (tf2onnx) gets a Transpose in front of its input.
    const bytes = onnx.layout === 'nchw' ? onnx.bytes : transposeInput(onnx.bytes, onnx.inputName, [0, 2, 3, 1], [-1, c, h, w]);
    engine = new OpenCvEngine(await readOnnxNet(bytes), loaded.inputShape, loaded.outputUnits);
    await engine.runAsync(new Float32Array(h * w * c), 1);
  } catch (err) {
    throw new ModelPackageError(loaded.dir, `OpenCV DNN cannot run it: ${errorMessage(err)}`);
  }
  const threads = options.threads > 0 ? `${options.threads} thread${options.threads > 1 ? 's' : ''}` : 'default threads';
  const note = ['opencv', 'auto'].includes(options.preference) ? '' : `; model.backend ${options.preference} is a TF.js backend, which cannot run ONNX`;
  log?.info({ model: loaded.dir, engine: 'opencv' }, `model: ONNX file on OpenCV DNN (${threads})${note}`);
  return { engine, summary: `opencv (ONNX file, ${threads}${note})` };
}
