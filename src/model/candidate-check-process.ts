/**
 * The child process in which a candidate model package is built and tested (see
 * candidate-check.ts). It has its own TF.js backend and WASM heap: whatever building a broken
 * or hostile package allocates or leaks goes when this process exits, never into the daemon
 * serving the current model. One request, one answer, then exit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorMessage, ModelPackageError } from '../util/errors';
import { selectBackend, type BackendPreference } from './backend';
import { Classifier } from './classifier';
import { loadModelPackage } from './model-package';
import { runSelfTest } from './self-test';

export interface CandidateCheckRequest {
  dir: string;
  backend: BackendPreference;
}

export type CandidateCheckAnswer = { ok: true; labels: number; selfTested: number } | { ok: false; file?: string; problem: string };

async function check(request: CandidateCheckRequest): Promise<CandidateCheckAnswer> {
  await selectBackend(request.backend);
  const loaded = await loadModelPackage(request.dir);
  const classifier = new Classifier(loaded);
  classifier.warmUp();
  const scores = classifier.scoresFor(new Float32Array(classifier.preprocessor.elements).fill(0.5));
  if (scores.length !== loaded.metadata.labels.length || !scores.every(Number.isFinite)) {
    throw new ModelPackageError(path.join(loaded.dir, 'model.json'), 'warm-up inference gave no usable scores (NaN or wrong count)');
  }
  const { tested } = await runSelfTest(classifier);
  return { ok: true, labels: loaded.metadata.labels.length, selfTested: tested };
}

function answerOf(err: unknown): CandidateCheckAnswer {
  if (err instanceof ModelPackageError) return { ok: false, file: err.file, problem: err.problem };
  return { ok: false, problem: errorMessage(err) };
}

// If the device runs short of memory while a candidate is built, the kernel should end this
// process, not the daemon (raising one's own OOM score needs no privilege).
try {
  fs.writeFileSync('/proc/self/oom_score_adj', '1000');
} catch {
  // not Linux, or /proc not mounted: the parent's memory watch still applies
}

process.once('message', (request: CandidateCheckRequest) => {
  void check(request)
    .catch(answerOf)
    .then((answer) => process.send?.(answer, () => process.exit(0)));
});
process.on('disconnect', () => process.exit(0));
