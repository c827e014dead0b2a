import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelPackageError } from '../util/errors';
import { readKerasFile, type KerasFormat } from './formats/keras';
import { kerasContract, kerasFileOf } from './keras-contract';
import { parseMetadata, type ModelMetadata } from './metadata';
import { artifactsHandler, METADATA_JSON, MODEL_JSON, readPackageArtifacts } from './package-io';

/** A loaded, checked model package: the TF.js model plus what metadata.json says about it. */
export interface LoadedModel {
  dir: string;
  format: 'layers-model' | 'graph-model';
  model: tf.LayersModel | tf.GraphModel;
  metadata: ModelMetadata;
  inputShape: [number, number, number];
  outputUnits: number;
  parameters: number;
  weightBytes: number;
  /** Set when the model came from a Keras file (`dir` is then that file). */
  keras?: KerasFormat & { notes: string[] };
}

/**
 * Loads a model package directory and refuses it, naming the file, when anything is off:
 * model.json missing or corrupt, shards missing or the wrong size, labels that do not match
 * the output units, an input that is not height x width x 1|3.
 */
export async function loadModelPackage(dir: string): Promise<LoadedModel> {
  const kerasFile = kerasFileOf(path.resolve(dir));
  if (kerasFile) return loadKerasFile(kerasFile);
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
    const { metadata, notes } = kerasContract(file, keras.artifacts.modelTopology as Record<string, unknown>, { height: inputShape[0], width: inputShape[1], channels: inputShape[2] }, outputUnits, keras.description.kerasVersion);
    return { dir: file, format: 'layers-model', model, metadata, inputShape, outputUnits, parameters: model.countParams(), weightBytes: keras.weightBytes, keras: { ...keras.description, notes } };
  } catch (err) {
    model.dispose();
    throw err;
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
