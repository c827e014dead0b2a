import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelPackageError } from '../util/errors';

/** Limits on what a package may hold, so an upload or inbox folder cannot fill the card. */
export const PACKAGE_LIMITS = { maxFiles: 500, maxDepth: 4 };

/**
 * Model packages in the state directory: `models/active` (what the daemon serves) and
 * `models/previous` (one step back). A new package is copied into a staging folder first and
 * then put in place by renames, so a crash or a full disk leaves either the old or the new
 * package, never half of one.
 */
export class ModelStore {
  readonly root: string;

  constructor(stateDir: string) {
    this.root = path.join(stateDir, 'models');
  }

  get activeDir(): string {
    return path.join(this.root, 'active');
  }

  get previousDir(): string {
    return path.join(this.root, 'previous');
  }

  /** The package to serve at start: active, or previous if a swap was interrupted. */
  startupDir(): string | undefined {
    if (fs.existsSync(path.join(this.activeDir, 'model.json'))) return this.activeDir;
    if (fs.existsSync(path.join(this.previousDir, 'model.json'))) return this.previousDir;
    return undefined;
  }

  hasPrevious(): boolean {
    return fs.existsSync(path.join(this.previousDir, 'model.json'));
  }

  /**
   * Copies a checked package in as the active one; the active one becomes previous. On the
   * first hand-off there is no active package yet: the one serving (`servingDir`, the shipped
   * default) is kept as previous, so a rollback returns to it.
   */
  install(fromDir: string, servingDir?: string): string {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const staging = path.join(this.root, `.staging-${process.pid}-${Date.now()}`);
    try {
      copyPackage(fromDir, staging);
    } catch (err) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw err;
    }
    fs.rmSync(this.previousDir, { recursive: true, force: true });
    if (fs.existsSync(this.activeDir)) fs.renameSync(this.activeDir, this.previousDir);
    else if (servingDir && path.resolve(servingDir) !== path.resolve(fromDir)) copyPackage(servingDir, this.previousDir);
    fs.renameSync(staging, this.activeDir);
    return this.activeDir;
  }

  /** Exchanges active and previous. */
  swapWithPrevious(): void {
    if (!this.hasPrevious()) throw new ModelPackageError(this.previousDir, 'there is no previous model to roll back to');
    const aside = path.join(this.root, `.rollback-${process.pid}-${Date.now()}`);
    if (fs.existsSync(this.activeDir)) fs.renameSync(this.activeDir, aside);
    fs.renameSync(this.previousDir, this.activeDir);
    if (fs.existsSync(aside)) fs.renameSync(aside, this.previousDir);
  }
}

/**
 * The package's regular files as paths relative to `dir` (no links, devices or dot-files),
 * within PACKAGE_LIMITS; what is copied into the store and what `edgesight deploy` uploads.
 */
export function listPackageFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (sub: string, depth: number) => {
    if (depth > PACKAGE_LIMITS.maxDepth) throw new ModelPackageError(path.join(dir, sub), `folders nest deeper than ${PACKAGE_LIMITS.maxDepth} levels`);
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const relative = path.join(sub, entry.name);
      if (entry.isDirectory()) walk(relative, depth + 1);
      else if (entry.isFile()) {
        files.push(relative);
        if (files.length > PACKAGE_LIMITS.maxFiles) throw new ModelPackageError(dir, `holds more than ${PACKAGE_LIMITS.maxFiles} files`);
      }
    }
  };
  walk('', 0);
  return files;
}

export function copyPackage(fromDir: string, toDir: string): void {
  for (const relative of listPackageFiles(fromDir)) {
    const target = path.join(toDir, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    fs.copyFileSync(path.join(fromDir, relative), target);
  }
}
