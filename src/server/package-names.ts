import * as path from 'node:path';
import { PACKAGE_LIMITS } from '../model/package-limits';
import { isKerasFileName } from '../model/formats/keras';

/** A refused upload, with the HTTP status to answer. */
export class UploadError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const SEGMENT = /^[\w\-.+@() ]+$/;

/**
 * The relative path a package file may have: plain names joined by '/', no '..', no absolute
 * path, no backslash or control character, at most PACKAGE_LIMITS.maxDepth folders deep.
 * Anything else is refused by name (a path traversal attempt never touches the disk).
 */
export function safeRelativePath(name: string): string {
  const segments = name.split('/');
  const ok =
    name.length > 0 &&
    name.length <= 255 &&
    segments.length <= PACKAGE_LIMITS.maxDepth + 1 &&
    segments.every((s) => s !== '.' && s !== '..' && !s.startsWith('.') && SEGMENT.test(s));
  if (!ok) throw new UploadError(400, `refused file name ${JSON.stringify(name)}: package files must be plain relative names such as model.json or selftest/cat/1.jpg`);
  return segments.join(path.sep);
}

/**
 * The names an upload has used so far, checked before anything touches the disk: a name sent
 * twice, or used both as a file and as a folder ("extra" and "extra/x"), is refused naming both
 * entries. Without this the second one fails inside mkdir or open (EEXIST, EISDIR, ENOTDIR),
 * which is an internal error at best and, thrown from a stream handler, ends the process.
 */
export class PackageNames {
  /** File name -> the entry that made it a file. */
  private readonly files = new Map<string, string>();
  /** Folder name -> the first entry that needed it. */
  private readonly folders = new Map<string, string>();

  get fileCount(): number {
    return this.files.size;
  }

  /** Claims `name` (already checked by safeRelativePath, '/'-separated) as a file. */
  file(name: string): void {
    const asFolder = this.folders.get(name);
    if (asFolder !== undefined) throw conflict(name, asFolder);
    if (this.files.has(name)) throw new UploadError(400, `the upload holds ${JSON.stringify(name)} twice`);
    this.claimParents(name);
    this.files.set(name, name);
  }

  /** Claims `name` as a folder (a zip's directory entry "name/"). */
  folder(name: string): void {
    const asFile = this.files.get(name);
    if (asFile !== undefined) throw conflict(asFile, `${name}/`);
    this.claimParents(name);
    if (!this.folders.has(name)) this.folders.set(name, `${name}/`);
  }

  private claimParents(name: string): void {
    const segments = name.split('/');
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join('/');
      if (this.files.has(parent)) throw conflict(parent, name);
      if (!this.folders.has(parent)) this.folders.set(parent, name);
    }
  }
}

function conflict(file: string, inside: string): UploadError {
  return new UploadError(400, `the upload holds both a file ${JSON.stringify(file)} and ${JSON.stringify(inside)}, which needs ${JSON.stringify(file)} to be a folder`);
}

/** A TF.js package (model.json) or one Keras file, at the top level of the package's file names. */
export function holdsModelAtTop(topNames: readonly string[]): boolean {
  return topNames.includes('model.json') || topNames.filter((name) => isKerasFileName(name) && !name.endsWith('.weights.h5')).length === 1;
}
