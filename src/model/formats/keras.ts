import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { ModelPackageError } from '../../util/errors';
import { isHdf5 } from './hdf5';
import { readKerasHdf5 } from './keras-hdf5';
import { readKerasZip } from './keras-zip';
import { isZip } from './zip-entries';
import './keras-layers';

/** What a Keras file turns into: the same in-memory artifacts the TF.js package reader returns. */
export interface KerasModel {
  artifacts: tfTypes.io.ModelArtifacts;
  description: KerasFormat;
  weightBytes: number;
}

export interface KerasFormat {
  format: 'keras-hdf5' | 'keras-zip';
  kerasVersion: string;
  backend?: string;
}

export const KERAS_EXTENSIONS = ['.h5', '.hdf5', '.keras'];

export function isKerasFileName(file: string): boolean {
  return KERAS_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** Reads a .h5 / .hdf5 / .keras file (off the main thread) and converts it; the format is told by its first bytes, not its name. */
export async function readKerasFile(file: string): Promise<KerasModel> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    throw new ModelPackageError(file, `cannot be read: ${(err as Error).message}`);
  }
  if (isHdf5(bytes)) return readKerasHdf5(bytes, file);
  if (isZip(bytes)) return readKerasZip(bytes, file);
  throw new ModelPackageError(file, bytes.length === 0 ? 'is empty' : 'is neither an HDF5 file (.h5, .hdf5) nor a zip (.keras)');
}
