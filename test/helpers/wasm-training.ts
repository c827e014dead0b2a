import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/model/backend';
import { registerWasmTrainingKernels } from '../../src/train/wasm-gradients';

/**
 * Call inside a describe: its tests run on the WASM backend with edgesight's training kernels
 * (the backend before is restored after), and the lines gathered in `reported` (relative
 * errors, kept for the record; the assertions hold them to their tolerance) are printed at the end.
 */
export function onWasmTrainingBackend(reported: string[]): void {
  let previous: string;
  before(async () => {
    await selectBackend('auto');
    previous = tf.getBackend();
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });
  after(async () => {
    await tf.setBackend(previous);
    for (const line of reported) console.log(`      ${line}`);
  });
}
