import * as path from 'node:path';
import type { BackendPreference } from '../config/backend-preference';
import { checkCandidateInChild, defaultCheckLimits, type CandidateCheckLimits } from '../model/candidate-check';
import type { Classifier } from '../model/classifier';
import { MemoryBudget } from '../model/memory-budget';
import { openPackage } from '../model/open-model';
import type { PoolServing } from '../model/pool/serve-on-pool';
import { checkPackageShape, packageLayoutOf } from '../model/package-layout';
import { errorMessage, ModelPackageError } from '../util/errors';
import type { Logger } from '../util/logger';
import type { ModelStore } from './model-store';

export interface HandoffTarget {
  /** Puts the classifier in service and returns the one it replaces. */
  swap(next: Classifier): Classifier;
  /** The package directory of the model serving now. */
  servingDir(): string;
}

export interface HandoffOptions {
  /** The TF.js backend the candidate is checked on: the daemon's own. */
  backend: BackendPreference;
  /** OpenCV DNN's threads (model.threads) for a model served by OpenCV. */
  threads?: number;
  /**
   * The inference pool: a candidate it should serve is loaded and checked in every worker
   * before the swap (onFailure 'refuse': a worker that cannot take it refuses the package).
   */
  pool?: PoolServing;
  /** Limits on the candidate's check process; by default from the package's weight bytes. */
  checkLimits?: (weightBytes: number) => CandidateCheckLimits;
  /** Refuses a candidate whose swap would pass the memory limit; by default this process's cgroup limit. */
  memory?: MemoryBudget;
}

/**
 * Takes a new model package into service without a restart. A candidate is checked in three
 * rings, each before the next costs anything: its files (model.json, shard sizes, each layer's
 * config against its weights' shapes) on reading alone; then built, warmed up and self-tested
 * in a child process whose memory is discarded whole on failure; only then loaded here (and,
 * when it is to run on the inference pool, in every worker, each checked against this
 * process's outputs), copied into the state directory and swapped in: every worker switches at
 * once, between two frames. Any failure leaves the running model serving, its tensors, heap and
 * workers untouched, and says why, naming the file. One hand-off at a time; the
 * previous package is kept for rollback.
 */
export class ModelHandoff {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly memory: MemoryBudget;

  constructor(
    private readonly store: ModelStore,
    private readonly target: HandoffTarget,
    private readonly log: Logger,
    private readonly options: HandoffOptions,
  ) {
    this.memory = options.memory ?? new MemoryBudget(options.backend);
  }

  /** Installs the package in `dir` (an inbox folder, an upload); resolves with the new classifier. */
  install(dir: string, origin: string): Promise<Classifier> {
    return this.serialize(async () => {
      const candidate = await this.vet(dir);
      let activeDir: string;
      try {
        activeDir = await this.store.install(dir, this.servingPackage());
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
      const candidate = await this.vet(this.store.previousDir);
      this.store.swapWithPrevious();
      return this.putInService(candidate, this.store.activeDir, 'rolled back');
    });
  }

  /** Swaps a checked classifier in, disposes the one it replaces, and says so. */
  private putInService(candidate: Classifier, storedDir: string, how: string): Classifier {
    // The classifier was loaded from elsewhere (inbox, upload, previous); it reports where it is kept now.
    // A Keras model's `dir` is its file: the one inside the stored folder.
    const stored = packageLayoutOf(storedDir);
    candidate.loaded.dir = stored?.kind === 'keras' ? stored.file : storedDir;
    this.target.swap(candidate).dispose();
    const meta = candidate.loaded.metadata;
    this.log.info({ model: meta.name, version: meta.version, labels: meta.labels.length }, `model ${meta.name} ${meta.version} now serving (${how})`);
    return candidate;
  }

  /**
   * The serving model's package as the store sees it: a Keras model's `dir` is its file, which
   * inside the store stands for its folder (active or previous), outside it for itself.
   */
  private servingPackage(): string {
    const serving = path.resolve(this.target.servingDir());
    const parent = path.dirname(serving);
    return parent === this.store.activeDir || parent === this.store.previousDir ? parent : serving;
  }

  /** Checks a package as the class comment says; returns it loaded and warmed up here, or throws naming the problem. */
  private async vet(dir: string): Promise<Classifier> {
    const { weightBytes } = checkPackageShape(dir);
    // The check child and the load here both count against the cgroup's limit beside the serving
    // model. The inference workers' copies come after the load, and only when they fit in the
    // room then left (serveOnPool's plan): otherwise the model stays on the main thread.
    this.memory.checkSwap(dir, weightBytes);
    const limits = (this.options.checkLimits ?? defaultCheckLimits)(weightBytes);
    const started = performance.now();
    const { selfTested } = await checkCandidateInChild(dir, this.options.backend, limits);
    this.log.debug({ dir, selfTested, ms: Math.round(performance.now() - started) }, 'candidate passed its check in a separate process');
    try {
      // The engine is chosen (and a converted model checked against TF.js) as at start-up.
      return await openPackage(dir, { preference: this.options.backend, threads: this.options.threads ?? 0 }, this.log, this.options.pool);
    } catch (err) {
      throw err instanceof ModelPackageError ? err : new ModelPackageError(dir, `passed its check but failed to load here: ${errorMessage(err)}`);
    }
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
