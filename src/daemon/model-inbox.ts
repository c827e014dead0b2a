import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { isKerasFileName } from '../model/formats/keras';
import { checkPackageFiles } from '../model/package-io';
import { packageLayoutOf } from '../model/package-layout';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { RejectedShelf, REJECTED } from './inbox-rejects';
import { isUtf8Name, printable, scanFolder } from './inbox-scan';
import type { ModelHandoff } from './model-handoff';

export interface InboxOptions {
  pollMs?: number;
  /** A package is taken once nothing in it changed for this long (a copy in progress keeps changing). */
  settleMs?: number;
  /** The time now, in ms since the epoch, compared with file times (tests set it). */
  clock?: () => number;
}

/** What the inbox hands a complete package to: the daemon's hand-off. */
export type PackageInstaller = Pick<ModelHandoff, 'install'>;

/**
 * Watches STATE/inbox for model packages copied in (scp -r mymodel pi@device:/var/lib/edgesight/inbox/).
 * A folder is taken only when it is complete — model.json parses, every weight shard it names
 * is there with the declared byte length, metadata.json parses — and has not changed for
 * settleMs; a half-copied folder is never picked up. Taken packages leave the inbox; refused
 * ones move to inbox/.rejected/ with a REJECTED.txt saying why (the five newest are kept).
 * Nothing in the inbox is followed: a link anywhere in a folder refuses it, naming the link,
 * before anything reads through it (see inbox-scan.ts).
 * Polling rather than fs.watch: it works the same on every filesystem and costs one readdir
 * every few seconds.
 */
export class ModelInbox {
  readonly dir: string;
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new Map<string, string>();
  private readonly warned = new Set<string>();
  private busy = false;
  private readonly pollMs: number;
  private readonly settleMs: number;
  private readonly clock: () => number;
  private readonly shelf: RejectedShelf;

  constructor(
    stateDir: string,
    private readonly handoff: PackageInstaller,
    private readonly log: Logger,
    options: InboxOptions = {},
  ) {
    this.dir = path.join(stateDir, 'inbox');
    this.pollMs = options.pollMs ?? 2000;
    this.settleMs = options.settleMs ?? 3000;
    this.clock = options.clock ?? Date.now;
    this.shelf = new RejectedShelf(this.dir);
  }

  start(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // A folder removed while it is being looked at must not take the daemon down.
    this.timer = setInterval(() => void this.poll().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'inbox: could not look at the inbox')), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One look at the inbox; installs at most one package per look. Each entry is looked at
   * inside its own error boundary: one that cannot be read (gone, unreadable) is passed over,
   * one that can never be a package is refused alone, and the others are still taken.
   */
  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      let entries: InboxEntry[];
      try {
        // An inbox that is itself a link would have every folder refused and moved through it.
        if (!fs.lstatSync(this.dir).isDirectory()) {
          if (!this.warned.has(this.dir)) this.log.error({ folder: this.dir }, `inbox: ${this.dir} is not a folder (a link?); not looking at it`);
          this.warned.add(this.dir);
          return;
        }
        entries = listEntries(this.dir);
      } catch {
        return;
      }
      for (const key of [...this.seen.keys()]) if (!entries.some((e) => e.key === key)) this.seen.delete(key);
      for (const entry of entries) {
        try {
          if (await this.look(entry)) return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          this.log.warn({ folder: entry.shown, err: errorMessage(err) }, `inbox: could not look at ${entry.shown}`);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** Looks at one inbox entry; true when a package was taken (or refused after an install attempt). */
  private async look(entry: InboxEntry): Promise<boolean> {
    const stat = fs.lstatSync(entry.path);
    // A link is refused as it is: stat-ing, scanning or renaming-then-writing through it reached outside the state directory.
    if (stat.isSymbolicLink()) {
      this.refuse(entry, `${entry.shown} is a symbolic link (to ${printable(fs.readlinkSync(entry.path).toString())}); links in the inbox are never followed`);
      return false;
    }
    if (stat.isFile() && entry.utf8 && isKerasFileName(entry.key)) return this.lookAtKerasFile(entry, stat);
    if (!stat.isDirectory()) return false;
    if (!entry.utf8) {
      this.refuse(entry, `folder name ${entry.shown} is not valid UTF-8`);
      return false;
    }
    const folder = entry.path as string;
    const scan = scanFolder(folder);
    const settled = this.seen.get(entry.key) === scan.signature && this.clock() - scan.newestMs >= this.settleMs;
    this.seen.set(entry.key, scan.signature);
    if (!settled) return false;
    if (scan.problem) {
      this.refuse(entry, scan.problem);
      return false;
    }
    const missing = incompleteReason(folder);
    if (missing) {
      // Settled but incomplete: a copy that stopped halfway. Keep waiting for the rest,
      // and say once what is missing in case nothing more is coming.
      if (!this.warned.has(scan.signature)) {
        this.warned.add(scan.signature);
        if (this.warned.size > 100) this.warned.clear();
        this.log.warn({ folder, missing }, `inbox: ${entry.shown} is not a complete model package yet; waiting (${missing})`);
      }
      return false;
    }
    await this.take(entry, folder);
    return true;
  }

  /**
   * A Keras file dropped straight into the inbox (scp model.h5 pi@device:/var/lib/edgesight/inbox/):
   * once its size and time have settled it is moved into a folder of its own, which is then
   * taken like any package folder (and refused as one).
   */
  private async lookAtKerasFile(entry: InboxEntry, stat: fs.Stats): Promise<boolean> {
    const signature = `${stat.size}:${stat.mtimeMs}`;
    const settled = this.seen.get(entry.key) === signature && this.clock() - stat.mtimeMs >= this.settleMs;
    this.seen.set(entry.key, signature);
    if (!settled) return false;
    // A dot-name, so that polls pass it over; the rename keeps the file inside the inbox.
    const folder = path.join(this.dir, `.taking-${Date.now()}-${entry.key}`);
    fs.mkdirSync(folder, { mode: 0o700 });
    fs.renameSync(entry.path, path.join(folder, entry.key));
    await this.take({ ...entry, path: folder }, folder);
    return true;
  }

  private async take(entry: InboxEntry, folder: string): Promise<void> {
    this.log.info({ folder }, `inbox: new model package ${entry.shown}`);
    try {
      await this.handoff.install(folder, `inbox/${entry.shown}`);
      await fsp.rm(folder, { recursive: true, force: true });
      this.seen.delete(entry.key);
    } catch (err) {
      this.refuse(entry, errorMessage(err));
    }
  }

  /** Moves an entry to inbox/.rejected with the reason (removes it if even that fails), and says so. */
  private refuse(entry: InboxEntry, reason: string): void {
    this.log.error({ folder: path.join(this.dir, entry.shown), err: reason }, `inbox: model package ${entry.shown} refused; the running model keeps serving: ${reason}`);
    try {
      this.shelf.put(entry.path, entry.shown, reason);
    } catch (err) {
      this.log.warn({ folder: path.join(this.dir, entry.shown), err: errorMessage(err) }, `inbox: could not move ${entry.shown} to ${REJECTED}; removing it`);
      // rmSync removes links themselves; it never deletes through them.
      fs.rmSync(entry.path, { recursive: true, force: true });
    }
    this.seen.delete(entry.key);
  }
}

interface InboxEntry {
  /** Path to act on: a Buffer when the name is not UTF-8 (the decoded string would name nothing). */
  path: string | Buffer;
  /** The name as text for maps, logs and the rejected folder's name. */
  key: string;
  shown: string;
  utf8: boolean;
}

/** The inbox's entries (dot-names left out), names read as bytes so none is lost to decoding. */
function listEntries(dir: string): InboxEntry[] {
  const entries: InboxEntry[] = [];
  for (const raw of fs.readdirSync(dir, { encoding: 'buffer' })) {
    if (raw[0] === 0x2e) continue;
    const utf8 = isUtf8Name(raw);
    const name = raw.toString('utf8');
    entries.push({
      path: utf8 ? path.join(dir, name) : Buffer.concat([Buffer.from(dir + path.sep), raw]),
      key: utf8 ? name : `\0x${raw.toString('hex')}`,
      shown: printable(name),
      utf8,
    });
  }
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Undefined when the folder holds a whole package: model.json, its weight shards (with the
 * declared sizes) and metadata.json, or one Keras file (whose completeness only its reader can
 * tell: a truncated one is refused by the hand-off); else what is missing.
 */
export function incompleteReason(folder: string): string | undefined {
  try {
    const layout = packageLayoutOf(folder);
    if (!layout) return `holds no model.json and no Keras file (.h5, .hdf5, .keras)`;
    if (layout.kind === 'keras') return undefined;
    checkPackageFiles(folder);
    JSON.parse(fs.readFileSync(path.join(folder, 'metadata.json'), 'utf8'));
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
