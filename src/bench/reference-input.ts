import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModelPackage } from '../model/model-package';
import { cv } from '../vision/cv';
import { Preprocessor } from '../vision/preprocess';
import { exportReferenceModel } from './export-reference';

/** File of edgesight's input values (float32) for the clip's first frame, beside the export. */
export const FRAME_PROBE_BIN = 'frame-probe.bin';

/**
 * What the reference loop needs for one row: the model package exported for PyTorch (same
 * network, same weights, TF.js's outputs on the probes), and edgesight's own input values for
 * the clip's first frame, so the loop can show that its preprocessing gives the same pixels.
 */
export async function prepareReference(modelDir: string, outDir: string, clip: string): Promise<{ exportDir: string; frameProbe: string }> {
  const loaded = await loadModelPackage(modelDir);
  try {
    exportReferenceModel(loaded, outDir);
    const capture = new cv.VideoCapture(clip);
    const frame = capture.read();
    try {
      if (frame.empty) throw new Error(`${clip}: no first frame to compare preprocessing on`);
      const values = new Preprocessor(loaded.metadata.preprocess).run(frame);
      const frameProbe = path.join(outDir, FRAME_PROBE_BIN);
      fs.writeFileSync(frameProbe, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
      return { exportDir: outDir, frameProbe };
    } finally {
      frame.release();
      capture.release();
    }
  } finally {
    loaded.model?.dispose();
  }
}
