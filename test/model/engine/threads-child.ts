/**
 * Run in its own process by opencv-engine.test.ts, since what it guards against is a crash of
 * the process: the Teachable Machine MobileNet runs forwardAsync back to back on OpenCV DNN
 * while the model.threads setting (its default, 0) is applied again and again, as every
 * hot-swap does. Prints how many runs completed; a SIGSEGV ends it otherwise.
 */
async function main(): Promise<void> {
  const { selectBackend } = await import('../../../src/model/backend');
  const { loadModelPackage } = await import('../../../src/model/model-package');
  const { OpenCvEngine, readOnnxNet, setOpenCvThreads } = await import('../../../src/model/engine/opencv-engine');
  const { convertLayersModel } = await import('../../../src/model/onnx/convert-layers');
  await selectBackend('wasm');
  const loaded = await loadModelPackage(process.argv[2]);
  const engine = new OpenCvEngine(await readOnnxNet(convertLayersModel(loaded.model as import('@tensorflow/tfjs').LayersModel).onnx), loaded.inputShape, loaded.outputUnits);
  const [h, w, c] = loaded.inputShape;
  const input = new Float32Array(h * w * c).fill(0.5);
  let running = true;
  let runs = 0;
  const inference = (async () => {
    while (running) {
      await engine.runAsync(input, 1);
      runs++;
    }
  })();
  const until = Date.now() + Number(process.argv[3] ?? 3000);
  while (Date.now() < until) {
    setOpenCvThreads(0);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  running = false;
  await inference;
  console.log(`runs ${runs}`);
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
