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

/** Copies regular files only (no links, devices or dot-files), within PACKAGE_LIMITS. */
export function copyPackage(fromDir: string, toDir: string): void {
  let files = 0;
  const walk = (from: string, to: string, depth: number) => {
    if (depth > PACKAGE_LIMITS.maxDepth) throw new ModelPackageError(from, `folders nest deeper than ${PACKAGE_LIMITS.maxDepth} levels`);
    fs.mkdirSync(to, { recursive: true, mode: 0o700 });
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const source = path.join(from, entry.name);
      if (entry.isDirectory()) walk(source, path.join(to, entry.name), depth + 1);
      else if (entry.isFile()) {
        if (++files > PACKAGE_LIMITS.maxFiles) throw new ModelPackageError(fromDir, `holds more than ${PACKAGE_LIMITS.maxFiles} files`);
        fs.copyFileSync(source, path.join(to, entry.name));
      }
    }
  };
  walk(fromDir, toDir, 0);
}
