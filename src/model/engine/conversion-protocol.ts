import type { BackendPreference } from '../../config/backend-preference';
import type { LoadedModel } from '../model-package';

// Messages between the daemon (convert-in-child.ts) and the conversion process (conversion-process.ts).

/** The ONNX file's private directory (under the temporary directory) starts so. */
export const ONNX_DIR_PREFIX = 'edgesight-onnx-';

export interface ConversionRequest {
  dir: string;
  preference: BackendPreference;
}

export type ConversionAnswer =
  | {
      ok: true;
      /** The loaded model without its TF.js model. */
      model: LoadedModel;
      /** The ONNX file, in a directory of its own that the daemon removes once it has read it. */
      onnxFile: string;
      /** TF.js's outputs on probeInputs(elements, range), in that order. */
      expected: Float32Array[];
      /** TF.js's median ms per inference on the first probe (auto only). */
      tfjsMs?: number;
    }
  /**
   * Not readied: the daemon loads the model itself and finds out (and says) why, unless `fatal`:
   * the process was killed (by the kernel at the memory limit, most likely, or at its deadline),
   * and the same load in the daemon would take the daemon down with it.
   */
  | { ok: false; why: string; fatal?: boolean };
