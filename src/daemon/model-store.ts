import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { METADATA_JSON } from '../model/package-io';
import { checkPackageShape, holdsModel } from '../model/package-layout';
import { ModelPackageError } from '../util/errors';
import { copyPackageVerified, syncDir } from './package-copy';


const STAGING = '.staging-';
/** The previous package on its way out (install). */
const OLD_PREVIOUS = '.old-previous-';
/** An active package that is not serving (it failed to load at start) on its way out (install). */
const OLD_ACTIVE = '.old-active-';
/** The active package set aside while previous moves in (rollback). */
const ASIDE = '.rollback-';

export interface StoreOptions {
  /**
   * Called after each step of an install or rollback with the step's name. Unset in
   * production; the crash tests set it to kill the process at that point.
   */
  afterStep?: (step: string) => void;
}

/**
 * Model packages in the state directory: `models/active` (what the daemon serves) and
 * `models/previous` (one step back). A new package is copied into a staging folder and
 * verified first, then put in place by renames. Every rename leaves a state that `recover()`
 * (called at start) turns back into a whole active package, old or new, never half of one:
 * the names of the folders moved aside say which step was interrupted.
 */
export class ModelStore {
  readonly root: string;
  private readonly afterStep: (step: string) => void;

  constructor(stateDir: string, options: StoreOptions = {}) {
    this.root = path.resolve(stateDir, 'models');
    this.afterStep = options.afterStep ?? (() => undefined);
  }

  get activeDir(): string {
    return path.join(this.root, 'active');
  }

  get previousDir(): string {
    return path.join(this.root, 'previous');
  }

  /** The packages to try at start, in order: active, then previous (each only if it holds a model). */
  startupCandidates(): string[] {
    return [this.activeDir, this.previousDir].filter(holdsModel);
  }

  hasPrevious(): boolean {
    return holdsModel(this.previousDir);
  }

  /**
   * Completes or undoes a swap that a crash interrupted, and removes what it left aside.
   * Returns what it did, for the log (empty when there was nothing to do).
   */
  recover(): string[] {
    if (!fs.existsSync(this.root)) return [];
    const done: string[] = [];
    const restore = (prefix: string, to: string) => {
      const from = this.newest(prefix);
      if (!from) return false;
      fs.renameSync(from, to);
      done.push(`restored ${to} from ${from} (a model swap was interrupted)`);
      return true;
    };
    // Active first: a rollback's aside is the active one; an install's old active (or, when the
    // install had already moved active to previous, previous) is the one that was serving.
    if (!exists(this.activeDir)) {
      if (!restore(ASIDE, this.activeDir) && !restore(OLD_ACTIVE, this.activeDir) && exists(this.previousDir)) {
        fs.renameSync(this.previousDir, this.activeDir);
        done.push(`restored ${this.activeDir} from ${this.previousDir} (a model install was interrupted)`);
      }
    }
    if (!exists(this.previousDir)) {
      if (!restore(OLD_PREVIOUS, this.previousDir)) restore(ASIDE, this.previousDir);
    }
    for (const name of fs.readdirSync(this.root)) {
      if ([STAGING, OLD_PREVIOUS, OLD_ACTIVE, ASIDE].some((prefix) => name.startsWith(prefix))) {
        fs.rmSync(path.join(this.root, name), { recursive: true, force: true });
        done.push(`removed ${path.join(this.root, name)} left by an interrupted model swap`);
      }
    }
    if (done.length) syncDir(this.root);
    return done;
  }

  /**
   * Copies a checked package in as the active one. The package serving now (`servingDir`)
   * becomes previous, so a rollback returns to it: normally that is active; at start it may
   * be previous (active failed to load) or the shipped default (nothing in the store loaded).
   */
  async install(fromDir: string, servingDir?: string): Promise<string> {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const id = `${Date.now()}-${process.pid}`;
    const staging = await this.stage(fromDir, path.join(this.root, `${STAGING}${id}`), false);
    this.afterStep('staged');
    const serving = servingDir ? path.resolve(servingDir) : undefined;
    const oldPrevious = path.join(this.root, `${OLD_PREVIOUS}${id}`);
    const oldActive = path.join(this.root, `${OLD_ACTIVE}${id}`);
    if (serving === this.previousDir) {
      // Active did not load; previous is serving and stays previous.
      this.rename(this.activeDir, oldActive, 'active aside');
    } else if (exists(this.activeDir) && (serving === undefined || serving === this.activeDir)) {
      this.rename(this.previousDir, oldPrevious, 'previous aside');
      this.rename(this.activeDir, this.previousDir, 'active to previous');
    } else {
      // The serving package is outside the store: a copy of it becomes previous.
      const seed = serving && serving !== path.resolve(fromDir) ? await this.stage(serving, path.join(this.root, `${STAGING}${id}-previous`), true) : undefined;
      this.afterStep('serving copy staged');
      this.rename(this.previousDir, oldPrevious, 'previous aside');
      this.rename(this.activeDir, oldActive, 'active aside');
      if (seed) this.rename(seed, this.previousDir, 'serving copy to previous');
    }
    this.rename(staging, this.activeDir, 'staging to active');
    // The swap is durable by now; removing what it replaced (maybe a large package) runs on the thread pool.
    await fsp.rm(oldPrevious, { recursive: true, force: true });
    await fsp.rm(oldActive, { recursive: true, force: true });
    this.afterStep('cleaned');
    return this.activeDir;
  }

  /** Exchanges active and previous. */
  swapWithPrevious(): void {
    if (!this.hasPrevious()) throw new ModelPackageError(this.previousDir, 'there is no previous model to roll back to');
    const aside = path.join(this.root, `${ASIDE}${Date.now()}-${process.pid}`);
    this.rename(this.activeDir, aside, 'active aside');
    this.rename(this.previousDir, this.activeDir, 'previous to active');
    this.rename(aside, this.previousDir, 'aside to previous');
  }

  /** Copies and verifies a package into `dir`; removes the partial copy on failure. */
  private async stage(fromDir: string, dir: string, followLinks: boolean): Promise<string> {
    try {
      await copyPackageVerified(fromDir, dir, { followLinks, afterFile: (file) => this.afterStep(`copied ${file}`) });
      // The copy must be a whole package by itself: a file left out is caught here, not at the next start.
      const { layout } = checkPackageShape(dir);
      if (layout.kind === 'tfjs' && !fs.existsSync(path.join(dir, METADATA_JSON))) throw new ModelPackageError(path.join(dir, METADATA_JSON), 'is missing from the stored copy');
      return dir;
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** One rename of the swap (skipped when there is nothing to move), made durable, then the step hook. */
  private rename(from: string, to: string, step: string): void {
    if (!exists(from)) return;
    fs.renameSync(from, to);
    syncDir(this.root);
    this.afterStep(step);
  }

  /** The most recent folder left aside with this prefix (names carry the time). */
  private newest(prefix: string): string | undefined {
    const names = fs.readdirSync(this.root).filter((n) => n.startsWith(prefix));
    names.sort((a, b) => Number.parseInt(b.slice(prefix.length), 10) - Number.parseInt(a.slice(prefix.length), 10));
    return names.length ? path.join(this.root, names[0]) : undefined;
  }
}

/** lstat-based: a dangling link counts as present (it is renamed, never followed). */
function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

