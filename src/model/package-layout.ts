import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelPackageError } from '../util/errors';
import { isKerasFileName } from './formats/keras';
import { kerasFileOf, LABELS_TXT } from './bare-model-contract';
import { checkPackageConsistency, METADATA_JSON, MODEL_JSON } from './package-io';

/**
 * What a model package holds: a TF.js package (model.json + weight shards + metadata.json), or
 * one Keras file with, optionally, labels.txt and metadata.json beside it. The hand-off, the
 * inbox, uploads and the model store all take either; the store keeps each as a folder.
 */
export type PackageLayout = { kind: 'tfjs'; dir: string } | { kind: 'keras'; dir: string; file: string };

/** The files that travel with a bare Keras file (its labels and preprocessing contract). */
export const KERAS_COMPANIONS = [LABELS_TXT, METADATA_JSON];

/** The layout of a package folder or a bare Keras file; undefined when it holds neither kind of model. */
export function packageLayoutOf(modelPath: string): PackageLayout | undefined {
  const stat = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (!stat) return undefined;
  if (stat.isFile()) return isKerasFileName(modelPath) ? { kind: 'keras', dir: path.dirname(modelPath), file: modelPath } : undefined;
  if (fs.existsSync(path.join(modelPath, MODEL_JSON))) return { kind: 'tfjs', dir: modelPath };
  const file = kerasFileOf(modelPath);
  return file ? { kind: 'keras', dir: modelPath, file } : undefined;
}

/** True when the folder holds a model of either kind (a folder with two Keras files does not). */
export function holdsModel(dir: string): boolean {
  try {
    return packageLayoutOf(dir) !== undefined;
  } catch {
    return false;
  }
}

/**
 * The checks a package must pass before anything is built from it, by reading alone: for a
 * TF.js package its files, shard sizes and layer configs against weight shapes (package-io);
 * for a Keras file that it is there (its reader checks the rest, in the check process).
 * Returns the layout and the weights' size in bytes.
 */
export function checkPackageShape(modelPath: string): { layout: PackageLayout; weightBytes: number } {
  const layout = packageLayoutOf(modelPath);
  if (!layout) throw new ModelPackageError(modelPath, `holds no ${MODEL_JSON} and no Keras file (.h5, .hdf5, .keras)`);
  if (layout.kind === 'tfjs') return { layout, weightBytes: checkPackageConsistency(modelPath).totalWeightBytes };
  return { layout, weightBytes: fs.statSync(layout.file).size };
}
