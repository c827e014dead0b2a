import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendPreference } from '../../config/backend-preference';
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
export function convertInChild(dir: string, preference: BackendPreference): Promise<ConversionAnswer> {
  return new Promise((resolve) => {
    let answer: ConversionAnswer | undefined;
    let child: ReturnType<typeof fork>;
    try {
      // No inherited debugger or test-runner flags.
      child = fork(conversionProcess.script, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [], serialization: 'advanced' });
    } catch (err) {
      return resolve({ ok: false, why: `could not start the conversion process: ${(err as Error).message}` });
    }
    let stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString('utf8')).slice(-500)));
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, CONVERSION_TIMEOUT_MS);
    child.once('message', (message) => (answer = message as ConversionAnswer));
    // A process that could not be started emits no 'exit'.
    child.once('error', (err) => {
      clearTimeout(deadline);
      child.kill('SIGKILL');
      resolve(answer ?? { ok: false, why: `the conversion process failed: ${err.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      if (answer) return resolve(answer);
      if (timedOut) return resolve({ ok: false, fatal: true, why: `its conversion for OpenCV DNN did not finish within ${CONVERSION_TIMEOUT_MS / 1000} s` });
      if (signal === 'SIGKILL') return resolve({ ok: false, fatal: true, why: 'its conversion for OpenCV DNN was killed, most likely by the kernel at the memory limit' });
      resolve({ ok: false, why: `the conversion process ended without an answer (${signal ?? `exit code ${code}`})${stderrTail.trim() ? `: ${stderrTail.trim().split('\n').pop()}` : ''}` });
    });
    const request: ConversionRequest = { dir, preference };
    child.send(request);
  });
}

/** Removes the conversion's ONNX file and its private directory. */
export async function removeConversion(conversion: ChildConversion): Promise<void> {
  const dir = path.dirname(conversion.onnxFile);
  // Only ever the directory the conversion process made for it.
  if (!path.basename(dir).startsWith(ONNX_DIR_PREFIX)) return;
  await fs.promises.rm(dir, { recursive: true, force: true });
}
