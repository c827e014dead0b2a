import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreprocessContract } from '../vision/preprocess';
import { directorySaveHandler, METADATA_JSON, writeAtomically } from '../model/package-io';
import { seedCnn } from '../train/architectures';

/** The seed course's cats/dogs input: the whole frame squeezed to 150x150, RGB, values 0..1. */
export const CATS_DOGS_CONTRACT: PreprocessContract = {
  width: 150,
  height: 150,
  channels: 3,
  resizeMode: 'stretch',
  colorOrder: 'rgb',
  range: [0, 1],
  invert: false,
  contrast: 'none',
};

/**
 * Writes the seed's cats/dogs network (150x150 RGB, untrained, seeded weights) as a model
 * package. Its speed is what the benchmark measures; its answers mean nothing.
 */
export async function writeSeedCnnPackage(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const model = seedCnn({ height: 150, width: 150, channels: 3, classes: 2, seed: 150 });
  try {
    await model.save(directorySaveHandler(dir));
  } finally {
    model.dispose();
  }
  const metadata = {
    name: 'seed-cnn-150-untrained',
    version: 'bench',
    labels: ['cat', 'dog'],
    preprocess: CATS_DOGS_CONTRACT,
    outputActivation: 'softmax',
    training: { architecture: 'seed-cnn', note: 'untrained weights, written by the benchmark for speed measurement only' },
  };
  writeAtomically(path.join(dir, METADATA_JSON), JSON.stringify(metadata, null, 2) + '\n');
}
