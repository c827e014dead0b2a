import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelPackageError } from '../util/errors';
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
}

/**
 * Loads a model package directory and refuses it, naming the file, when anything is off:
 * model.json missing or corrupt, shards missing or the wrong size, labels that do not match
 * the output units, an input that is not height x width x 1|3.
 */
export async function loadModelPackage(dir: string): Promise<LoadedModel> {
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
