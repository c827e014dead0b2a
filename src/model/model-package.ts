import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelPackageError } from '../util/errors';
import { bareModelContract, bareModelFileOf, nestedModelsOnly } from './bare-model-contract';
import { readKerasFile, type KerasFormat } from './formats/keras';
import { isOnnxFileName, readOnnxFile, type OnnxFile } from './formats/onnx-file';
import { parseMetadata, type ModelMetadata } from './metadata';
import { artifactsHandler, METADATA_JSON, MODEL_JSON, readPackageArtifacts } from './package-io';

/**
 * A loaded, checked model package: the model plus what metadata.json says about it. A TF.js
 * package or Keras file has its TF.js model; a user's ONNX file has none (OpenCV DNN runs it).
 */
export interface LoadedModel {
  dir: string;
  format: 'layers-model' | 'graph-model' | 'onnx';
  /** Absent for an ONNX file, and once a model served on OpenCV DNN has let its TF.js copy go (releaseTfjsModel). */
  model?: tf.LayersModel | tf.GraphModel;
  metadata: ModelMetadata;
  inputShape: [number, number, number];
  outputUnits: number;
  parameters: number;
  weightBytes: number;
  /** Set when the model came from a Keras file (`dir` is then that file). */
  keras?: KerasFormat & { notes: string[] };
  /** Set when the model is an ONNX file (`dir` is then that file). */
  onnx?: OnnxFile & { notes: string[] };
}

/**
 * Loads a model package directory and refuses it, naming the file, when anything is off:
 * model.json missing or corrupt, shards missing or the wrong size, labels that do not match
 * the output units, an input that is not height x width x 1|3.
 */
export async function loadModelPackage(dir: string): Promise<LoadedModel> {
  const bareFile = bareModelFileOf(path.resolve(dir));
  if (bareFile) return isOnnxFileName(bareFile) ? loadOnnxFile(bareFile) : loadKerasFile(bareFile);
  const abs = path.resolve(dir);
  const { artifacts, format, totalWeightBytes } = await readPackageArtifacts(abs);
  const modelFile = path.join(abs, MODEL_JSON);
  let model: tf.LayersModel | tf.GraphModel;
  try {
    model = format === 'graph-model' ? await tf.loadGraphModel(artifactsHandler(artifacts)) : await tf.loadLayersModel(artifactsHandler(artifacts));
  } catch (err) {
    throw new ModelPackageError(modelFile, `TensorFlow.js could not build the model: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    const inputShape = inputShapeOf(model, modelFile);
    const outputUnits = outputUnitsOf(model, modelFile);
    const metadataFile = path.join(abs, METADATA_JSON);
    if (!fs.existsSync(metadataFile)) throw new ModelPackageError(metadataFile, 'is missing (it must list the labels)');
    let rawMetadata: unknown;
    try {
      rawMetadata = JSON.parse(fs.readFileSync(metadataFile, 'utf8'));
    } catch (err) {
      throw new ModelPackageError(metadataFile, `is not valid JSON (${(err as Error).message})`);
    }
    const metadata = parseMetadata(rawMetadata, metadataFile, { height: inputShape[0], width: inputShape[1], channels: inputShape[2] }, outputUnits);
    const parameters = 'countParams' in model ? model.countParams() : artifacts.weightSpecs!.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    return { dir: abs, format, model, metadata, inputShape, outputUnits, parameters, weightBytes: totalWeightBytes };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * A Keras file (.h5, .hdf5, .keras) as a model: its reader gives the same artifacts a package
 * gives, labels and preprocessing come from beside the file (keras-contract).
 */
async function loadKerasFile(file: string): Promise<LoadedModel> {
  const keras = await readKerasFile(file);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(artifactsHandler(keras.artifacts));
  } catch (err) {
    throw new ModelPackageError(file, `TensorFlow.js could not build the model: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    const inputShape = inputShapeOf(model, file);
    const outputUnits = outputUnitsOf(model, file);
    const teachableArchitecture = nestedModelsOnly(keras.artifacts.modelTopology as Record<string, unknown>);
    const { metadata, notes } = bareModelContract(file, { height: inputShape[0], width: inputShape[1], channels: inputShape[2] }, outputUnits, { version: `keras ${keras.description.kerasVersion}`, teachableArchitecture });
    return { dir: file, format: 'layers-model', model, metadata, inputShape, outputUnits, parameters: model.countParams(), weightBytes: keras.weightBytes, keras: { ...keras.description, notes } };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * A user's ONNX file (from PyTorch's torch.onnx.export, say): input size and layout from its
 * graph, labels and preprocessing from beside it as for a bare Keras file. When the graph does
 * not declare a fixed output size, the labels say how many classes there are.
 */
async function loadOnnxFile(file: string): Promise<LoadedModel> {
  const onnx = await readOnnxFile(file);
  const [height, width, channels] = onnx.inputShape;
  const labelled = onnx.outputUnits ?? labelsBeside(file);
  if (!labelled) throw new ModelPackageError(file, 'declares no fixed (batch, classes) output and has no labels.txt or metadata.json beside it to say how many classes');
  const { metadata, notes } = bareModelContract(file, { height, width, channels }, labelled, { version: `onnx${onnx.opset ? ` opset ${onnx.opset}` : ''}`, teachableArchitecture: false, outputActivation: onnx.outputActivation });
  return { dir: file, format: 'onnx', metadata, inputShape: onnx.inputShape, outputUnits: labelled, parameters: 0, weightBytes: onnx.bytes.length, onnx: { ...onnx, notes } };
}

/** How many labels the files beside a bare model give, if any. */
function labelsBeside(file: string): number | undefined {
  try {
    return bareModelContract(file, { height: 1, width: 1, channels: 1 }, 0, { version: '', teachableArchitecture: false }).metadata.labels.length;
  } catch {
    return undefined;
  }
}

function inputShapeOf(model: tf.LayersModel | tf.GraphModel, file: string): [number, number, number] {
  const shape = model.inputs[0]?.shape;
  if (!shape || shape.length !== 4) {
    throw new ModelPackageError(file, `input must have rank 4 (batch, height, width, channels), found ${shape ? `rank ${shape.length} [${shape.join(', ')}]` : 'no input shape'}`);
  }
  const [, h, w, c] = shape;
  if (typeof h !== 'number' || typeof w !== 'number' || typeof c !== 'number' || h < 1 || w < 1) {
    throw new ModelPackageError(file, `input height, width and channels must be fixed numbers, found [${shape.join(', ')}]`);
  }
  if (c !== 1 && c !== 3) throw new ModelPackageError(file, `input has ${c} channels; only 1 (grayscale) or 3 (colour) are supported`);
  return [h, w, c];
}

function outputUnitsOf(model: tf.LayersModel | tf.GraphModel, file: string): number {
  const shape = model.outputs[0]?.shape;
  const units = shape?.[shape.length - 1];
  if (!shape || shape.length !== 2 || typeof units !== 'number' || units < 1) {
    throw new ModelPackageError(file, `output must be (batch, classes), found ${shape ? `[${shape.join(', ')}]` : 'no output shape'}`);
  }
  return units;
}

/**
 * Frees the TF.js copy of a model that OpenCV DNN serves: it was needed to convert the model and
 * to check OpenCV's outputs, and nothing reads it after. Kept, it holds the weights in the WASM
 * heap (which never shrinks) beside OpenCV's own copy, and the next hot-swap's load could not
 * reuse that room, so the daemon's memory grew by the model at every swap.
 */
export function releaseTfjsModel(loaded: LoadedModel): void {
  loaded.model?.dispose();
  loaded.model = undefined;
}

/** The TF.js model of a package or Keras file; an ONNX file has none (only OpenCV DNN runs it). */
export function tfjsModelOf(loaded: LoadedModel): tf.LayersModel | tf.GraphModel {
  if (!loaded.model) throw new ModelPackageError(loaded.dir, 'is an ONNX model: only the opencv engine runs it, TF.js cannot');
  return loaded.model;
}
