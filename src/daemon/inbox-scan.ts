import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_LIMITS } from '../model/package-limits';

export interface FolderScan {
  /** Names, sizes and times of everything in the folder: unchanged between two looks means the copy settled. */
  signature: string;
  newestMs: number;
  /** Why the folder can never be a package (a link, an undecodable name, a device); undefined when none. */
  problem?: string;
}

/**
 * Looks at every entry of an inbox folder without following anything: lstat, never stat, so a
 * link is seen as a link and nothing outside the folder is ever read through it. A link, a
 * name that is not UTF-8 or anything but files and folders is a problem that refuses the
 * folder (never an exception that would stop the inbox looking at the other folders).
 */
export function scanFolder(folder: string): FolderScan {
  const parts: string[] = [];
  let newestMs = 0;
  let entries = 0;
  const walk = (dir: string, relative: string, depth: number): string | undefined => {
    if (depth > PACKAGE_LIMITS.maxDepth) return `${relative}: folders nest deeper than ${PACKAGE_LIMITS.maxDepth} levels`;
    for (const raw of fs.readdirSync(dir, { encoding: 'buffer' })) {
      const name = raw.toString('utf8');
      const shown = relative ? `${relative}/${printable(name)}` : printable(name);
      if (!isUtf8Name(raw)) return `${shown}: file name is not valid UTF-8`;
      if (++entries > PACKAGE_LIMITS.maxFiles * 2) return `holds more than ${PACKAGE_LIMITS.maxFiles * 2} entries`;
      const file = path.join(dir, name);
      const stat = fs.lstatSync(file);
      if (stat.isSymbolicLink()) return `${shown} is a symbolic link (to ${printable(readLink(file))}); links in the inbox are never followed`;
      if (!stat.isFile() && !stat.isDirectory()) return `${shown} is not a regular file or folder`;
      newestMs = Math.max(newestMs, stat.mtimeMs);
      parts.push(`${shown}:${stat.size}:${stat.mtimeMs}`);
      if (stat.isDirectory()) {
        const problem = walk(file, shown, depth + 1);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  const problem = walk(folder, '', 0);
  return { signature: (problem ? `!${problem}|` : '') + parts.join('|'), newestMs, problem };
}

/** A directory entry's name decodes as UTF-8 and encodes back to the same bytes. */
export function isUtf8Name(raw: Buffer): boolean {
  return Buffer.from(raw.toString('utf8'), 'utf8').equals(raw);
}

/** A name fit for a log line or a folder name: undecodable bytes and control characters as '_'. */
export function printable(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\uFFFD\u0000-\u001f\u007f]/g, '_');
}

function readLink(file: string): string {
  try {
    return fs.readlinkSync(file);
  } catch {
    return '?';
  }
}
