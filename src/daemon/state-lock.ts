import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, errorMessage, StateDirBusyError } from '../util/errors';
import type { Logger } from '../util/logger';

export const LOCK_FILE = 'daemon.lock';

/** Who holds the lock: the pid, and what tells a live holder from a later process given the same pid. */
interface Holder {
  pid: number;
  /** /proc/sys/kernel/random/boot_id: a lock written before a reboot is stale whatever its pid. */
  bootId?: string;
  /** Field 22 of /proc/PID/stat (clock ticks after boot): another value means the pid was reused. */
  startTime?: string;
}

/** Lock files this process holds, so that a second daemon in the same process is refused too. */
const heldHere = new Set<string>();

/**
 * One daemon per state directory. STATE/daemon.lock names the holder; a second `run` is refused
 * with StateDirBusyError before it touches anything there (it would clear the first one's upload
 * staging area and race it over the models). A lock whose holder is gone (a crash, a power cut
 * and reboot, a pid since given to another process or to this one) is taken over with a warning.
 */
export class StateLock {
  private released = false;
  private constructor(readonly file: string, private readonly holder: Holder) {}

  static acquire(stateDir: string, log: Logger): StateLock {
    const file = path.join(stateDir, LOCK_FILE);
    const me = thisProcess();
    // A few rounds: a holder may release, or another starter take over, between our steps.
    for (let round = 0; round < 3; round++) {
      if (createLock(file, me)) {
        heldHere.add(file);
        return new StateLock(file, me);
      }
      const text = readText(file);
      if (text === undefined) continue;
      const holder = parseHolder(text);
      if (holder && isRunning(holder, file)) throw new StateDirBusyError(stateDir, holder.pid);
      if (!removeIfUnchanged(file, text)) continue;
      log.warn({ lock: file }, `state.dir: took over ${file} from ${holder ? `pid ${holder.pid}, which is no longer running` : 'an unreadable lock'}`);
    }
    throw new ConfigError(`state.dir: cannot lock ${stateDir}: ${file} keeps changing hands (several edgesight starting at once?)`);
  }

  /** Removes the lock file if it still names this process. Safe to call more than once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.file);
    const text = readText(this.file);
    const holder = text === undefined ? undefined : parseHolder(text);
    if (holder?.pid === this.holder.pid && holder.startTime === this.holder.startTime) fs.rmSync(this.file, { force: true });
  }
}

/**
 * Creates the lock exclusively with its content already in it: written to a private file, then
 * hard-linked to the lock name (link fails with EEXIST like O_EXCL). Opening the lock name with
 * O_EXCL and then writing would let a concurrent starter read an empty lock and judge it stale.
 */
function createLock(file: string, me: Holder): boolean {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, JSON.stringify(me) + '\n', { mode: 0o600 });
    fs.linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new ConfigError(`state.dir: cannot create ${file}: ${errorMessage(err)}`);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Removes a stale lock unless it changed since it was judged. The lock is first renamed to a
 * name of our own: a rename moves one file once, so of two daemons starting together only one
 * removes a given stale lock, and a fresh lock that replaced it in between is put back.
 */
function removeIfUnchanged(file: string, judged: string): boolean {
  const claimed = `${file}.${process.pid}.stale`;
  try {
    fs.renameSync(file, claimed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new ConfigError(`state.dir: cannot replace the stale ${file}: ${errorMessage(err)}`);
  }
  const unchanged = readText(claimed) === judged;
  if (!unchanged) {
    try {
      fs.linkSync(claimed, file);
    } catch {
      // Someone locked meanwhile; theirs stands, and the next round judges it.
    }
  }
  fs.rmSync(claimed, { force: true });
  return unchanged;
}

function isRunning(holder: Holder, file: string): boolean {
  // Our own pid in a lock we do not hold: left by an earlier process that had this pid
  // (a container's pid 1 has the same pid on every start).
  if (holder.pid === process.pid) return heldHere.has(file);
  const me = thisProcess();
  if (holder.bootId && me.bootId && holder.bootId !== me.bootId) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user; it is running.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const startTime = procStartTime(holder.pid);
  return !(holder.startTime && startTime && holder.startTime !== startTime);
}

function thisProcess(): Holder {
  return { pid: process.pid, bootId: readText('/proc/sys/kernel/random/boot_id')?.trim(), startTime: procStartTime(process.pid) };
}

/** Start time of a process, from /proc (undefined where there is none, or it is hidden). */
function procStartTime(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Holder;
    return Number.isInteger(value?.pid) && value.pid > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
