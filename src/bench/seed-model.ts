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

/** The seed course's digit input (python_pipeline.py's `digits`): the frame squeezed to 28x28 grey, values 0..1. */
export const COURSE_DIGITS_CONTRACT: PreprocessContract = {
  width: 28,
  height: 28,
  channels: 1,
  resizeMode: 'stretch',
  colorOrder: 'rgb',
  range: [0, 1],
  invert: false,
  contrast: 'none',
};

/** The seed course's two CNNs (conv32-pool-conv64-pool-dense512), by the benchmark row they are. */
export const SEED_CNNS = {
  'seed-cnn-150': { contract: CATS_DOGS_CONTRACT, labels: ['cat', 'dog'], seed: 150 },
  'course-cnn-28': { contract: COURSE_DIGITS_CONTRACT, labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], seed: 28 },
} as const;

/**
 * Writes one of the seed course's networks (untrained, seeded weights) as a model package; by
 * default the cats/dogs CNN at 150x150 RGB. Its speed is what the benchmark measures; its
 * answers mean nothing.
 */
export async function writeSeedCnnPackage(dir: string, which: keyof typeof SEED_CNNS = 'seed-cnn-150'): Promise<void> {
  const { contract, labels, seed } = SEED_CNNS[which];
  fs.mkdirSync(dir, { recursive: true });
  const model = seedCnn({ height: contract.height, width: contract.width, channels: contract.channels, classes: labels.length, seed });
  try {
    await model.save(directorySaveHandler(dir));
  } finally {
    model.dispose();
  }
  const metadata = {
    name: `${which}-untrained`,
    version: 'bench',
    labels,
    preprocess: contract,
    outputActivation: 'softmax',
    training: { architecture: 'seed-cnn', note: 'untrained weights, written by the benchmark for speed measurement only' },
  };
  writeAtomically(path.join(dir, METADATA_JSON), JSON.stringify(metadata, null, 2) + '\n');
}
