/**
 * Run in its own process by engine-leaks.test.ts: OpenCV's counting allocator is process-wide
 * and must be on before the first Mat, so it cannot be switched on inside the mocha process.
 * Prints the Mats still allocated and the live TF.js tensors after 50 and after 550 runs.
 */
import { cv } from '../../../src/vision/cv';

cv.dangerousEnableCustomMatAllocator();

async function main(): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { selectBackend } = await import('../../../src/model/backend');
  const { loadModelPackage } = await import('../../../src/model/model-package');
  const { Classifier } = await import('../../../src/model/classifier');
  const { selectEngine } = await import('../../../src/model/engine/select-engine');
  await selectBackend('wasm');
  const loaded = await loadModelPackage(process.argv[2]);
  const selection = await selectEngine(loaded, { preference: 'opencv', threads: 1 });
  const classifier = new Classifier(loaded, selection.engine, selection.summary);
  const frame = new cv.Mat(480, 640, cv.CV_8UC3, [40, 80, 120]);
  const smalls = [classifier.preprocessor.shrink(frame), classifier.preprocessor.shrink(frame)];
  const outstanding = () => {
    const m = cv.getMemMetrics();
    return m.NumAllocations - m.NumDeAllocations;
  };
  const round = async () => {
    classifier.classify(frame);
    await classifier.classifyBatchAsync(smalls, 2);
  };
  for (let i = 0; i < 50; i++) await round();
  const at50 = { mats: outstanding(), tensors: tf.memory().numTensors };
  for (let i = 0; i < 500; i++) await round();
  const at550 = { mats: outstanding(), tensors: tf.memory().numTensors };
  process.stdout.write(JSON.stringify({ engine: classifier.engine.name, at50, at550 }) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err) + '\n');
  process.exit(1);
});
