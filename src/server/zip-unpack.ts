import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { UploadError } from './package-names';
import type { UnpackJob, UnpackResult } from './zip-unpack-worker';

/** Longer than any honest package takes to unpack on a Pi; a stuck worker must not hold the upload forever. */
const UNPACK_DEADLINE_MS = 120_000;

/**
 * Unpacks `job.zipFile` into `job.dir` in a worker thread (see zip-unpack-worker). Settles only
 * once the worker has exited, so the caller may remove the folder knowing nothing still writes
 * into it. A refusal comes back as the worker's UploadError (status and message).
 */
export function unpackZipInWorker(job: UnpackJob): Promise<number> {
  return new Promise((resolve, reject) => {
    let result: UnpackResult | undefined;
    let crash: Error | undefined;
    // A small heap: the worker streams, it never holds an entry (zlib's buffers live outside the heap).
    const worker = new Worker(path.join(__dirname, 'zip-unpack-worker.js'), { workerData: job, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } });
    const deadline = setTimeout(() => {
      result = { ok: false, status: 500, message: `unpacking the zip took over ${UNPACK_DEADLINE_MS / 1000} s` };
      void worker.terminate();
    }, UNPACK_DEADLINE_MS);
    worker.once('message', (message: UnpackResult) => {
      result ??= message;
      // Done or refused, the worker has nothing left to do: end it rather than wait for it to wind down.
      void worker.terminate();
    });
    worker.once('error', (err) => (crash = err));
    worker.once('exit', () => {
      clearTimeout(deadline);
      if (result?.ok) resolve(result.files);
      else if (result) reject(new UploadError(result.status, result.message));
      else reject(crash ?? new Error('the zip unpacking worker exited without an answer'));
    });
  });
}
