/**
 * Prints the default model's accuracy on the two scenes it must handle: all 2,004 MNIST
 * validation digits as they are, and the same split drawn dark on light paper in 640x480
 * JPEG frames at 40-55% of the frame height, turned up to 12 degrees, as they are and
 * redrawn as thin pen lines.
 *
 *   npm run eval:default [-- --model DIR --paper N]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/model/backend';
import { loadModelPackage } from '../src/model/model-package';
import { resolveModelDir } from '../src/model/open-model';
import { evaluateDigits } from '../src/train/digit-eval';
import { loadMnistSplit } from '../src/demo/mnist-digits';
import { Preprocessor } from '../src/vision/preprocess';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string', default: 'models/default' }, paper: { type: 'string', default: '2000' } } });
  const backend = await selectBackend('auto');
  const loaded = await loadModelPackage(resolveModelDir(values.model!));
  const preprocessor = new Preprocessor(loaded.metadata.preprocess);
  const result = evaluateDigits((x) => loaded.model!.predict(x) as tf.Tensor, preprocessor, loadMnistSplit().validation, { paperSamples: Number(values.paper), seed: 2024 });
  console.log(`model ${loaded.dir} on ${backend.name}`);
  console.log(`MNIST validation (light on dark, 28x28): ${(result.mnistAccuracy * 100).toFixed(2)}% of ${result.mnistTotal}`);
  console.log(`paper scenes (dark on light, 640x480 JPEG): ${(result.paperAccuracy * 100).toFixed(2)}% of ${result.paperTotal}`);
  const pen = evaluateDigits((x) => loaded.model!.predict(x) as tf.Tensor, preprocessor, loadMnistSplit().validation, { paperSamples: Number(values.paper), seed: 2025, penStrokes: true });
  console.log(`paper scenes, digits redrawn as thin pen lines: ${(pen.paperAccuracy * 100).toFixed(2)}% of ${pen.paperTotal}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
