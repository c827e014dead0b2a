import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatasetRequestError, errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { checkFolder, checkLabel, checkSampleName, isSampleName, labelProblem, UNLABELLED } from './labels';
import type { SampleInfo, SampleRecord } from './types';

interface Entry {
  bytes: number;
  time: number;
  record?: SampleRecord;
}

export interface StoreLimits {
  capBytes: number;
  minFreeBytes: number;
}

/**
 * The dataset folder (state directory dataset/): one folder per label in Keras'
 * flow_from_directory layout, _unlabelled/ for hard examples, and index.jsonl, an append-only
 * log with one line per kept frame (what the model said then) and one per move or delete.
 * A catalogue of the files is kept in memory (bounded by the disk cap), so listing and counting
 * touch no disk; every path is built here from a checked label and a checked sample name.
 */
export class DatasetStore {
  readonly dir: string;
  readonly indexFile: string;
  private readonly labels = new Map<string, Map<string, Entry>>();
  private used = 0;
  /** Bytes promised to saves that are being written. */
  private reserved = 0;
  private indexBytes = 0;
  private indexChain: Promise<void> = Promise.resolve();
  /** The size of the last sample refused for space: what must fit before capture goes on. */
  lastRefusedBytes = 0;

  constructor(stateDir: string, readonly limits: StoreLimits, private readonly log: Logger) {
    this.dir = path.join(stateDir, 'dataset');
    this.indexFile = path.join(this.dir, 'index.jsonl');
  }

  /** Reads what is on disk: the folders, their samples, and the index lines that describe them. */
  async open(): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const dirent of await fs.promises.readdir(this.dir, { withFileTypes: true })) {
      if (!dirent.isDirectory()) continue;
      const label = dirent.name;
      if (label !== UNLABELLED && labelProblem(label)) {
        this.log.warn({ folder: label }, `dataset: folder ${label} is not a usable label; left alone`);
        continue;
      }
      const folder = this.folder(label);
      for (const file of await fs.promises.readdir(path.join(this.dir, label), { withFileTypes: true })) {
        const full = path.join(this.dir, label, file.name);
        // A write cut short by a crash or power cut.
        if (file.name.startsWith('.tmp-')) {
          await fs.promises.rm(full, { force: true });
          continue;
        }
        if (!file.isFile() || !isSampleName(file.name)) continue;
        const stat = await fs.promises.stat(full);
        folder.set(file.name, { bytes: stat.size, time: stat.mtimeMs });
        this.used += stat.size;
      }
    }
    await this.readIndex();
  }

  private async readIndex(): Promise<void> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.indexFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.indexBytes = Buffer.byteLength(text);
    this.used += this.indexBytes;
    const records = new Map<string, SampleRecord>();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let item: Record<string, unknown>;
      try {
        item = JSON.parse(line);
      } catch {
        continue; // a line cut short by a power cut
      }
      const file = String(item.file);
      if (item.op === 'move' && typeof item.to === 'string') {
        const record = records.get(file);
        records.delete(file);
        if (record) records.set(item.to, { ...record, file: item.to, label: String(item.label) });
      } else if (item.op === 'delete') records.delete(file);
      else if (!item.op) records.set(file, item as unknown as SampleRecord);
    }
    for (const [file, record] of records) {
      const [label, name] = file.split('/');
      const entry = this.labels.get(label)?.get(name);
      if (entry) entry.record = record;
    }
  }

  get usedBytes(): number {
    return this.used + this.reserved;
  }

  freeBytes(): number {
    try {
      const s = fs.statfsSync(this.dir);
      return s.bavail * s.bsize;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /** Why `bytes` more cannot be written now (the cap, or the disk's free space), or undefined. */
  spaceProblem(bytes: number): string | undefined {
    const { capBytes, minFreeBytes } = this.limits;
    if (this.usedBytes + bytes > capBytes) {
      return `dataset is full: ${mb(this.usedBytes)} MB used of the ${mb(capBytes)} MB cap (dataset.maxMB); delete samples or raise the cap`;
    }
    const free = this.freeBytes();
    if (free - bytes < minFreeBytes) {
      return `disk nearly full: ${mb(free)} MB free on ${this.dir}, capture keeps ${mb(minFreeBytes)} MB free (dataset.minFreeMB)`;
    }
    return undefined;
  }

  /**
   * Writes an encoded sample and its index line: checks the space first (throws a 507 naming
   * the limit), writes to a temporary name and renames, so a partial file is never listed.
   */
  async add(label: string, name: string, jpeg: Buffer, record: Omit<SampleRecord, 'file' | 'label' | 'bytes'>): Promise<SampleInfo> {
    checkFolder(label);
    checkSampleName(name);
    const line = { ...record, file: `${label}/${name}`, label, bytes: jpeg.length } as SampleRecord;
    const lineText = JSON.stringify(line) + '\n';
    const need = jpeg.length + Buffer.byteLength(lineText);
    const problem = this.spaceProblem(need);
    if (problem) {
      this.lastRefusedBytes = need;
      throw new DatasetRequestError(507, problem);
    }
    this.reserved += need;
    try {
      const folder = path.join(this.dir, label);
      await fs.promises.mkdir(folder, { recursive: true, mode: 0o700 });
      const tmp = path.join(folder, `.tmp-${name}`);
      await fs.promises.writeFile(tmp, jpeg, { mode: 0o600 });
      await fs.promises.rename(tmp, path.join(folder, name));
      const entry: Entry = { bytes: jpeg.length, time: Date.now(), record: line };
      this.folder(label).set(name, entry);
      this.used += jpeg.length;
      await this.appendIndex(lineText);
      return info(label, name, entry);
    } finally {
      this.reserved -= need;
    }
  }

  private appendIndex(text: string): Promise<void> {
    // One append at a time, in order; a failed append does not stop later ones.
    const next = this.indexChain.then(async () => {
      await fs.promises.appendFile(this.indexFile, text, { mode: 0o600 });
      const bytes = Buffer.byteLength(text);
      this.indexBytes += bytes;
      this.used += bytes;
    });
    this.indexChain = next.catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'dataset: index line not written'));
    return next;
  }

  /** Labels with their counts and bytes (including _unlabelled), in name order. */
  counts(): Array<{ label: string; count: number; bytes: number }> {
    return [...this.labels.entries()]
      .filter(([, files]) => files.size > 0)
      .map(([label, files]) => ({ label, count: files.size, bytes: sum(files) }))
      .sort((a, b) => a.label.localeCompare(b.label));
  }

  get indexSize(): number {
    return this.indexBytes;
  }

  /** A label's samples, newest first. */
  samples(label: unknown): SampleInfo[] {
    const folder = checkFolder(label);
    const files = this.labels.get(folder);
    if (!files) return [];
    return [...files.entries()].map(([name, entry]) => info(folder, name, entry)).sort((a, b) => b.time - a.time || b.name.localeCompare(a.name));
  }

  /** Every sample as label/name with its size. */
  all(includeUnlabelled: boolean): Array<{ path: string; label: string; name: string; bytes: number; time: number }> {
    const out: Array<{ path: string; label: string; name: string; bytes: number; time: number }> = [];
    for (const [label, files] of this.labels) {
      if (label === UNLABELLED && !includeUnlabelled) continue;
      for (const [name, entry] of files) out.push({ path: `${label}/${name}`, label, name, bytes: entry.bytes, time: entry.time });
    }
    return out.sort((a, b) => a.path.localeCompare(b.path));
  }

  /** The absolute path of a sample that exists; 400 for a bad label or name, 404 for none. */
  pathOf(label: unknown, name: unknown): string {
    const folder = checkFolder(label);
    const file = checkSampleName(name);
    if (!this.labels.get(folder)?.has(file)) throw new DatasetRequestError(404, `no sample ${folder}/${file}`);
    const full = path.join(this.dir, folder, file);
    // Checked names cannot leave the folder; this says so once more.
    if (path.dirname(full) !== path.join(this.dir, folder)) throw new DatasetRequestError(400, `sample ${folder}/${file} is outside the dataset`);
    return full;
  }

  entry(label: string, name: string): SampleInfo | undefined {
    const entry = this.labels.get(label)?.get(name);
    return entry ? info(label, name, entry) : undefined;
  }

  /** Moves a sample to another label (relabel); the index records the move. */
  async move(label: unknown, name: unknown, to: unknown): Promise<SampleInfo> {
    const from = this.pathOf(label, name);
    const target = to === UNLABELLED ? UNLABELLED : checkLabel(to, 'new label');
    const folder = label as string;
    const file = name as string;
    const entry = this.labels.get(folder)!.get(file)!;
    if (target === folder) return info(folder, file, entry);
    const targetDir = path.join(this.dir, target);
    if (this.labels.get(target)?.has(file)) throw new DatasetRequestError(409, `${target}/${file} already exists`);
    await fs.promises.mkdir(targetDir, { recursive: true, mode: 0o700 });
    await fs.promises.rename(from, path.join(targetDir, file));
    this.labels.get(folder)!.delete(file);
    const moved: Entry = { ...entry, record: entry.record ? { ...entry.record, file: `${target}/${file}`, label: target } : undefined };
    this.folder(target).set(file, moved);
    await this.appendIndex(JSON.stringify({ time: new Date().toISOString(), op: 'move', file: `${folder}/${file}`, to: `${target}/${file}`, label: target }) + '\n');
    return info(target, file, moved);
  }

  async remove(label: unknown, name: unknown): Promise<void> {
    const full = this.pathOf(label, name);
    const folder = label as string;
    const file = name as string;
    const entry = this.labels.get(folder)!.get(file)!;
    await fs.promises.rm(full, { force: true });
    this.labels.get(folder)!.delete(file);
    this.used -= entry.bytes;
    await this.appendIndex(JSON.stringify({ time: new Date().toISOString(), op: 'delete', file: `${folder}/${file}` }) + '\n');
  }

  private folder(label: string): Map<string, Entry> {
    let files = this.labels.get(label);
    if (!files) this.labels.set(label, (files = new Map()));
    return files;
  }
}

function info(label: string, name: string, entry: Entry): SampleInfo {
  const r = entry.record;
  return {
    id: `${label}/${name}`,
    label,
    name,
    bytes: entry.bytes,
    time: entry.time,
    width: r?.width,
    height: r?.height,
    kind: r?.kind,
    reason: r?.reason,
    prediction: r?.prediction,
  };
}

function sum(files: Map<string, Entry>): number {
  let total = 0;
  for (const entry of files.values()) total += entry.bytes;
  return total;
}

function mb(bytes: number): string {
  return (bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 2 : 0);
}
