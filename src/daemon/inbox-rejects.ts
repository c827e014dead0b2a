import * as fs from 'node:fs';
import * as path from 'node:path';

export const REJECTED = '.rejected';
export const KEEP_REJECTED = 5;
export const REASON_FILE = 'REJECTED.txt';

/**
 * inbox/.rejected: refused inbox entries, each in a folder with a REJECTED.txt saying why; the
 * five most recent are kept. Folder names begin with the time of refusal, so name order is
 * time order. Nothing here follows a link: the shelf itself, a refused folder and a
 * REJECTED.txt planted in it may all be links, and writing through one would write outside
 * the state directory.
 */
export class RejectedShelf {
  readonly root: string;

  constructor(inboxDir: string) {
    this.root = path.join(inboxDir, REJECTED);
  }

  /**
   * Moves the inbox entry at `entry` (a Buffer path when its name is not UTF-8) onto the shelf
   * with the reason; returns the folder it went to. A folder is moved as it is; a link is moved
   * into a new folder of its own (renamed, never followed).
   */
  put(entry: string | Buffer, shownName: string, reason: string): string {
    this.ensureRoot();
    const target = path.join(this.root, `${new Date().toISOString().replace(/[:.]/g, '-')}-${shownName.slice(0, 100)}`);
    if (fs.lstatSync(entry).isDirectory()) {
      fs.renameSync(entry, target);
    } else {
      fs.mkdirSync(target, { mode: 0o700 });
      fs.renameSync(entry, path.join(target, 'refused-entry'));
    }
    writeReason(target, reason);
    this.prune();
    return target;
  }

  private ensureRoot(): void {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(this.root);
    } catch {
      stat = undefined;
    }
    if (stat?.isDirectory()) return;
    // A link (or a file) named .rejected: moving refused folders into it, and pruning it, would
    // act on whatever it points to. Remove the entry itself (unlink does not follow).
    if (stat) fs.rmSync(this.root, { force: true });
    fs.mkdirSync(this.root, { mode: 0o700 });
  }

  /** Keeps the KEEP_REJECTED newest; names from before time-first naming count as older. */
  private prune(): void {
    const timeFirst = /^\d{4}-\d{2}-\d{2}T/;
    const byAge = fs.readdirSync(this.root).sort((a, b) => {
      const ka = (timeFirst.test(a) ? '1' : '0') + a;
      const kb = (timeFirst.test(b) ? '1' : '0') + b;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    for (const old of byAge.slice(0, Math.max(0, byAge.length - KEEP_REJECTED))) fs.rmSync(path.join(this.root, old), { recursive: true, force: true });
  }
}

/**
 * Writes REJECTED.txt into a refused folder. The folder came from outside and may already hold
 * an entry of that name, a link to anywhere among them: that entry is removed (the link, not
 * its target) and the file created exclusively without following links, so a link that
 * appears in between makes the write fail instead of landing outside.
 */
function writeReason(folder: string, reason: string): void {
  const file = path.join(folder, REASON_FILE);
  fs.rmSync(file, { recursive: true, force: true });
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, reason + '\n');
  } finally {
    fs.closeSync(fd);
  }
}
