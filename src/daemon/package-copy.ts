import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ModelPackageError } from '../util/errors';
import { KERAS_COMPANIONS } from '../model/package-layout';
import { PACKAGE_LIMITS } from '../model/package-limits';

export interface CopyOptions {
  /**
   * Follow symbolic links in the source. Only for the operator's own model folder (model.path),
   * which may legitimately link its weights; a package that arrives (inbox, upload) never.
   */
  followLinks?: boolean;
  /** Called after each file is written (the store's crash tests stop the process there). */
  afterFile?: (relative: string) => void;
}

interface CopiedFile {
  relative: string;
  size: number;
  sha256: string;
}

/**
 * Copies a package's files (dot-files left out) into `toDir`, which must not exist yet, and
 * then reads every copied file back and compares its size and SHA-256 with what was read from
 * the source. A link in the source is refused, naming it, unless followLinks: skipping it
 * silently once stored a package without its weights. Files are created exclusively ('wx'),
 * so nothing is ever written through a link planted at the target. Reads, writes and the
 * fsync run on the thread pool: a 60 MB package on an SD card took over a second of fsync,
 * which stalled the stream when it ran on the main thread.
 */
export async function copyPackageVerified(from: string, toDir: string, options: CopyOptions = {}): Promise<void> {
  // A bare Keras file (model.path=FILE) travels with its labels and contract, not its whole folder.
  const bareFile = fs.statSync(from).isFile();
  const fromDir = bareFile ? path.dirname(from) : from;
  const files = bareFile ? [path.basename(from), ...KERAS_COMPANIONS.filter((f) => fs.existsSync(path.join(fromDir, f)))] : listPackageFiles(fromDir, options.followLinks === true);
  fs.mkdirSync(toDir, { mode: 0o700 });
  const copied: CopiedFile[] = [];
  const buffer = Buffer.allocUnsafe(CHUNK);
  for (const relative of files) {
    const target = path.join(toDir, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    copied.push({ relative, ...(await copyOneFile(path.join(fromDir, relative), target, options.followLinks === true, buffer)) });
    options.afterFile?.(relative);
  }
  for (const file of copied) {
    const target = path.join(toDir, file.relative);
    const back = await hashFile(target, buffer);
    if (back.size !== file.size || back.sha256 !== file.sha256) {
      throw new ModelPackageError(target, `stored copy differs from ${path.join(fromDir, file.relative)} (${back.size} bytes, expected ${file.size}${back.size === file.size ? '; contents differ' : ''})`);
    }
  }
}

/**
 * The package's regular files as paths relative to `dir` (dot-files left out), within
 * PACKAGE_LIMITS: what is copied into the store and what `edgesight deploy` uploads. A link
 * (unless followed) or a device is refused by name, never skipped: skipping one once stored
 * a package without its weights.
 */
export function listPackageFiles(dir: string, followLinks = false): string[] {
  const files: string[] = [];
  const walk = (sub: string, depth: number) => {
    if (depth > PACKAGE_LIMITS.maxDepth) throw new ModelPackageError(path.join(dir, sub), `folders nest deeper than ${PACKAGE_LIMITS.maxDepth} levels`);
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const relative = path.join(sub, entry.name);
      const full = path.join(dir, relative);
      // Dirent types come from lstat: a link shows as a link, not as what it points to.
      let kind: { isFile(): boolean; isDirectory(): boolean } = entry;
      if (entry.isSymbolicLink()) {
        if (!followLinks) throw new ModelPackageError(full, 'is a symbolic link; a model package must hold its files, not links to them');
        kind = fs.statSync(full);
      }
      if (kind.isDirectory()) walk(relative, depth + 1);
      else if (kind.isFile()) {
        files.push(relative);
        if (files.length > PACKAGE_LIMITS.maxFiles) throw new ModelPackageError(dir, `holds more than ${PACKAGE_LIMITS.maxFiles} files`);
      } else throw new ModelPackageError(full, 'is not a regular file or folder');
    }
  };
  walk('', 0);
  return files;
}

const CHUNK = 1 << 20;

/** Copies one file through descriptors: the source opened O_NOFOLLOW (unless following), the target created exclusively. */
async function copyOneFile(from: string, to: string, followLinks: boolean, buffer: Buffer): Promise<{ size: number; sha256: string }> {
  const input = await openForRead(from, followLinks);
  try {
    const output = await fsp.open(to, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      const result = await readHashing(input, buffer, async (n) => {
        let written = 0;
        while (written < n) written += (await output.write(buffer, written, n - written)).bytesWritten;
      });
      // On the card before any rename makes the copy the active package.
      await output.sync();
      return result;
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

async function hashFile(file: string, buffer: Buffer): Promise<{ size: number; sha256: string }> {
  const input = await openForRead(file, false);
  try {
    return await readHashing(input, buffer);
  } finally {
    await input.close();
  }
}

/** Reads an open file to its end in chunks, hashing each and handing it to `onChunk`; its size and SHA-256. */
async function readHashing(input: fsp.FileHandle, buffer: Buffer, onChunk?: (n: number) => Promise<void>): Promise<{ size: number; sha256: string }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for (;;) {
    const { bytesRead: n } = await input.read(buffer, 0, CHUNK, null);
    if (n === 0) break;
    hash.update(buffer.subarray(0, n));
    await onChunk?.(n);
    size += n;
  }
  return { size, sha256: hash.digest('hex') };
}

async function openForRead(file: string, followLinks: boolean): Promise<fsp.FileHandle> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, fs.constants.O_RDONLY | (followLinks ? 0 : fs.constants.O_NOFOLLOW));
  } catch (err) {
    // A link swapped in after the listing: O_NOFOLLOW refuses it with ELOOP.
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new ModelPackageError(file, 'is a symbolic link; a model package must hold its files, not links to them');
    throw new ModelPackageError(file, `cannot be read: ${(err as Error).message}`);
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new ModelPackageError(file, 'is not a regular file');
  }
  return handle;
}

/** Makes renames in `dir` durable (a power cut after a swap must not bring back the old names). */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
