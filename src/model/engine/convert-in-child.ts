import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendPreference } from '../../config/backend-preference';
import { runOnceInChild } from '../run-once-in-child';
import { ONNX_DIR_PREFIX, type ConversionAnswer, type ConversionRequest } from './conversion-protocol';

/**
 * The conversion process's script. Tests point it at one that dies; production never changes
 * it, so the seam costs nothing.
 */
export const conversionProcess = { script: path.join(__dirname, 'conversion-process.js') };

/** How long the conversion process may take (a large Keras file on a Pi included). */
const CONVERSION_TIMEOUT_MS = 180_000;

export type ChildConversion = Extract<ConversionAnswer, { ok: true }>;

/**
 * Loads, converts and probes the model at `dir` in a child process (conversion-process.ts), so
 * that the daemon gets an ONNX file and TF.js's reference outputs without ever holding TF.js's
 * copy of the weights: TF.js's WASM heap grows to a few times the weights while they load and
 * never gives that memory back, which for a model served on OpenCV DNN is memory spent on
 * nothing for as long as the daemon runs. Resolves `{ ok: false, why }` for anything that did
 * not work out, never rejects: the caller then loads the model in-process as before.
 */
export async function convertInChild(dir: string, preference: BackendPreference): Promise<ConversionAnswer> {
  const request: ConversionRequest = { dir, preference };
  const outcome = await runOnceInChild<ConversionAnswer>(conversionProcess.script, request, {
    timeoutMs: CONVERSION_TIMEOUT_MS,
    timeoutReason: `its conversion for OpenCV DNN did not finish within ${CONVERSION_TIMEOUT_MS / 1000} s`,
    serialization: 'advanced',
  });
  if ('answer' in outcome) return outcome.answer;
  // Past its deadline: the same load here would take as long, holding the daemon meanwhile.
  if ('killedFor' in outcome) return outcome.cause === 'deadline' ? { ok: false, fatal: true, why: outcome.killedFor } : { ok: false, why: `the conversion process ${outcome.killedFor}` };
  const { ended } = outcome;
  if (ended.signal === 'SIGKILL') return { ok: false, fatal: true, why: 'its conversion for OpenCV DNN was killed, most likely by the kernel at the memory limit' };
  return { ok: false, why: `the conversion process ended without an answer (${ended.signal ?? `exit code ${ended.code}`})${ended.stderr ? `: ${ended.stderr}` : ''}` };
}

/** Removes the conversion's ONNX file and its private directory. */
export async function removeConversion(conversion: ChildConversion): Promise<void> {
  const dir = path.dirname(conversion.onnxFile);
  // Only ever the directory the conversion process made for it.
  if (!path.basename(dir).startsWith(ONNX_DIR_PREFIX)) return;
  await fs.promises.rm(dir, { recursive: true, force: true });
}
