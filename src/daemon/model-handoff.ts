import * as fs from 'node:fs';
import * as path from 'node:path';
import { Classifier } from '../model/classifier';
import { loadModelPackage } from '../model/model-package';
import { errorMessage, ModelPackageError } from '../util/errors';
import type { Logger } from '../util/logger';
import { cv } from '../vision/cv';
import type { ModelStore } from './model-store';

/** A package may carry reference images as selftest/<label>/<image>; every one must come out as its label. */
export const SELFTEST_DIR = 'selftest';
const MAX_SELFTEST_IMAGES = 200;

export interface HandoffTarget {
  /** Puts the classifier in service and returns the one it replaces. */
  swap(next: Classifier): Classifier;
  /** The package directory of the model serving now. */
  servingDir(): string;
}

/**
 * Takes a new model package into service without a restart: load it, check it (files, shapes,
 * labels), run a warm-up inference and the package's self-test, copy it into the state
 * directory, and only then swap it in. Any failure leaves the running model serving and says
 * why, naming the file. One hand-off at a time; the previous package is kept for rollback.
 */
export class ModelHandoff {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ModelStore,
    private readonly target: HandoffTarget,
    private readonly log: Logger,
  ) {}

  /** Installs the package in `dir` (an inbox folder, an upload); resolves with the new classifier. */
  install(dir: string, origin: string): Promise<Classifier> {
    return this.serialize(async () => {
      const candidate = await vetPackage(dir);
      let activeDir: string;
      try {
        activeDir = this.store.install(dir, this.target.servingDir());
      } catch (err) {
        candidate.dispose();
        throw err instanceof ModelPackageError ? err : new ModelPackageError(this.store.activeDir, `could not be written: ${errorMessage(err)}`);
      }
      return this.putInService(candidate, activeDir, `from ${origin}`);
    });
  }

  /** Serves the previous package again; the current one becomes previous. */
  rollback(): Promise<Classifier> {
    return this.serialize(async () => {
      if (!this.store.hasPrevious()) throw new ModelPackageError(this.store.previousDir, 'there is no previous model to roll back to');
      const candidate = await vetPackage(this.store.previousDir);
      this.store.swapWithPrevious();
      return this.putInService(candidate, this.store.activeDir, 'rolled back');
    });
  }

  /** Swaps a checked classifier in, disposes the one it replaces, and says so. */
  private putInService(candidate: Classifier, storedDir: string, how: string): Classifier {
    // The classifier was loaded from elsewhere (inbox, upload, previous); it reports where it is kept now.
    candidate.loaded.dir = storedDir;
    this.target.swap(candidate).dispose();
    const meta = candidate.loaded.metadata;
    this.log.info({ model: meta.name, version: meta.version, labels: meta.labels.length }, `model ${meta.name} ${meta.version} now serving (${how})`);
    return candidate;
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Loads and checks a package; returns a warmed-up classifier, or throws naming the problem. */
export async function vetPackage(dir: string): Promise<Classifier> {
  const loaded = await loadModelPackage(dir);
  const classifier = new Classifier(loaded);
  try {
    classifier.warmUp();
    const scores = classifier.scoresFor(new Float32Array(loaded.inputShape[0] * loaded.inputShape[1] * loaded.inputShape[2]).fill(0.5));
    if (scores.length !== loaded.metadata.labels.length || !scores.every(Number.isFinite)) {
      throw new ModelPackageError(path.join(loaded.dir, 'model.json'), 'warm-up inference gave no usable scores (NaN or wrong count)');
    }
    await selfTest(classifier);
    return classifier;
  } catch (err) {
    classifier.dispose();
    throw err;
  }
}

async function selfTest(classifier: Classifier): Promise<void> {
  const root = path.join(classifier.loaded.dir, SELFTEST_DIR);
  if (!fs.existsSync(root)) return;
  const labels = classifier.loaded.metadata.labels;
  const failures: string[] = [];
  let tested = 0;
  for (const label of fs.readdirSync(root).sort()) {
    const folder = path.join(root, label);
    if (!fs.statSync(folder).isDirectory()) continue;
    if (!labels.includes(label)) throw new ModelPackageError(folder, `self-test folder names a label the model does not have (labels: ${labels.join(', ')})`);
    for (const name of fs.readdirSync(folder).sort()) {
      if (++tested > MAX_SELFTEST_IMAGES) throw new ModelPackageError(root, `holds more than ${MAX_SELFTEST_IMAGES} images`);
      const file = path.join(folder, name);
      const mat = await cv.imreadAsync(file).catch(() => undefined);
      if (!mat || mat.empty) throw new ModelPackageError(file, 'self-test image cannot be decoded');
      try {
        const { scores } = classifier.classify(mat);
        let best = 0;
        for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
        if (labels[best] !== label) failures.push(`${SELFTEST_DIR}/${label}/${name} came out as ${labels[best]}`);
      } finally {
        mat.release();
      }
    }
  }
  if (failures.length) {
    throw new ModelPackageError(root, `self-test failed for ${failures.length} of ${tested} images: ${failures.slice(0, 5).join('; ')}${failures.length > 5 ? '; ...' : ''}`);
  }
}
