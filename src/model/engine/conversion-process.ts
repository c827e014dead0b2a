/**
 * The child process that readies a model for OpenCV DNN (see convert-in-child.ts): it loads the
 * package with TF.js, converts it to ONNX, writes the ONNX to a private temporary file and
 * answers with what the daemon needs to check and serve it without loading TF.js's copy of the
 * weights itself: the model's description, TF.js's outputs on the probe inputs and, for `auto`,
 * TF.js's time per inference. Its WASM heap, which grows to a few times the weights while they
 * load and never shrinks, goes when it exits. One request, one answer, then exit.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { errorMessage } from '../../util/errors';
import { selectBackend } from '../backend';
import { loadModelPackage, releaseTfjsModel } from '../model-package';
import { convertLayersModel } from '../onnx/convert-layers';
import { ONNX_DIR_PREFIX, type ConversionAnswer, type ConversionRequest } from './conversion-protocol';
import { probesFor, timeEngine } from './probe-check';
import { TfjsEngine } from './tfjs-engine';

async function convert(request: ConversionRequest): Promise<ConversionAnswer> {
  await selectBackend(request.preference);
  const loaded = await loadModelPackage(request.dir);
  try {
    if (loaded.format !== 'layers-model' || !loaded.model) return { ok: false, why: `a ${loaded.format} is not converted here` };
    const { onnx } = convertLayersModel(loaded.model as tf.LayersModel);
    const tfjs = new TfjsEngine(loaded.model, loaded.inputShape, loaded.outputUnits);
    const probes = probesFor(loaded);
    const expected = probes.map((probe) => tfjs.run(probe, 1).slice());
    const tfjsMs = request.preference === 'auto' ? await timeEngine(tfjs, probes[0]) : undefined;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), ONNX_DIR_PREFIX));
    const onnxFile = path.join(dir, 'model.onnx');
    fs.writeFileSync(onnxFile, onnx, { mode: 0o600 });
    return { ok: true, model: loaded, onnxFile, expected, tfjsMs };
  } finally {
    // Also takes the TF.js model out of the answer, which crosses to the daemon as data.
    releaseTfjsModel(loaded);
  }
}

// Should the device run short of memory meanwhile, the kernel is to end this process, not the
// daemon (raising one's own OOM score needs no privilege); the daemon then loads the model itself.
try {
  fs.writeFileSync('/proc/self/oom_score_adj', '1000');
} catch {
  // not Linux, or /proc not mounted
}

process.once('message', (request: ConversionRequest) => {
  void convert(request)
    .catch((err: unknown): ConversionAnswer => ({ ok: false, why: errorMessage(err) }))
    .then((answer) => process.send?.(answer, () => process.exit(0)));
});
process.on('disconnect', () => process.exit(0));
