import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorMessage, ModelPackageError } from '../util/errors';
import { readImageFile } from '../vision/read-image';
import type { Classifier } from './classifier';

/** A package may carry reference images as selftest/<label>/<image>; every one must come out as its label. */
export const SELFTEST_DIR = 'selftest';
export const MAX_SELFTEST_IMAGES = 200;

/**
 * Classifies every image under the package's selftest/ folder and throws, naming the images,
 * when any comes out as another label. Images are size-checked from their headers before
 * decoding (a tiny PNG can declare 16000x16000). Nothing to do without a selftest/ folder.
 */
export async function runSelfTest(classifier: Classifier): Promise<{ tested: number }> {
  const root = path.join(classifier.loaded.dir, SELFTEST_DIR);
  if (!fs.existsSync(root)) return { tested: 0 };
  const labels = classifier.loaded.metadata.labels;
  const failures: string[] = [];
  let tested = 0;
  for (const label of fs.readdirSync(root).sort()) {
    const folder = path.join(root, label);
    if (!fs.lstatSync(folder).isDirectory()) continue;
    if (!labels.includes(label)) throw new ModelPackageError(folder, `self-test folder names a label the model does not have (labels: ${labels.join(', ')})`);
    for (const name of fs.readdirSync(folder).sort()) {
      if (++tested > MAX_SELFTEST_IMAGES) throw new ModelPackageError(root, `holds more than ${MAX_SELFTEST_IMAGES} images`);
      const file = path.join(folder, name);
      const mat = await readImageFile(file).catch((err: unknown) => {
        throw new ModelPackageError(file, `self-test image refused: ${errorMessage(err).replace(`${file}: `, '')}`);
      });
      try {
        const { scores } = classifier.classify(mat);
        let best = 0;
        for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
        if (labels[best] !== label) failures.push(`${SELFTEST_DIR}/${label}/${name} came out as ${labels[best]}`);
      } finally {
        mat.release();
      }
    }
  }
  if (failures.length) {
    throw new ModelPackageError(root, `self-test failed for ${failures.length} of ${tested} images: ${failures.slice(0, 5).join('; ')}${failures.length > 5 ? '; ...' : ''}`);
  }
  return { tested };
}
