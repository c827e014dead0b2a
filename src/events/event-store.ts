import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { EVENT_ID, type EventRecord } from './model';

export interface StoreOptions {
  dir: string;
  retentionMs: number;
  maxBytes: number;
  log: Logger;
  now?: () => number;
}

export interface EventQuery {
  label?: string;
  /** Events that started at or after this time (ms). */
  since?: number;
  /** Events that started before this time (ms). */
  until?: number;
  /** Newest first: skip this many. */
  offset: number;
  limit: number;
}

export type SnapshotKind = 'annotated' | 'raw' | 'clip';

interface Entry {
  record: EventRecord;
  bytes: number;
}

/**
 * Events on disk, one JSON file per event beside its snapshots (ID.json, ID.jpg annotated,
 * ID.raw.jpg), written to a temporary name and renamed, so a power cut leaves whole files or
 * none. An index in memory (at most what retention keeps) answers queries. Retention by age
 * and by total size runs after each write and every minute: the disk never fills.
 */
export class EventStore {
  private readonly entries = new Map<string, Entry>();
  private readonly deleting = new Set<string>();
  private totalBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  deletedByRetention = 0;
  private readonly now: () => number;

  constructor(private readonly options: StoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get dir(): string {
    return this.options.dir;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get count(): number {
    return this.entries.size;
  }

  /** Reads the events kept before; an event left open by a crash is closed as interrupted. */
  open(): void {
    const { dir, log } = this.options;
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.accessSync(dir, fs.constants.W_OK);
    } catch (err) {
      throw new ConfigError(`events.dir: ${dir} cannot be used: ${errorMessage(err)}`);
    }
    for (const name of fs.readdirSync(dir)) {
      if (name.includes('.tmp')) {
        fs.rmSync(path.join(dir, name), { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -5);
      if (!EVENT_ID.test(id)) continue;
      try {
        const record = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as EventRecord;
        if (record.id !== id || typeof record.start !== 'number') throw new Error('not an event record');
        if (record.end === null) {
          record.end = Math.max(record.start, record.best?.at ?? record.start);
          record.interrupted = true;
          this.writeJson(record);
        }
        this.index(record);
      } catch (err) {
        log.warn({ file: name, err: errorMessage(err) }, 'events: an unreadable event file was removed');
        this.removeFiles(id);
      }
    }
    this.enforceRetention();
    this.timer = setInterval(() => this.enforceRetention(), 60_000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Writes (or rewrites) an event's record. */
  async save(record: EventRecord): Promise<void> {
    await this.writeAtomic(this.jsonOf(record.id), Buffer.from(JSON.stringify(record)));
    // Deleted (DELETE, retention) while the write was under way: it stays deleted.
    if (this.deleting.has(record.id)) return void this.removeFiles(record.id);
    this.index(record);
  }

  /** Writes a snapshot of an event already saved, then its record (which says the file is there). */
  async saveSnapshots(record: EventRecord, annotated: Buffer | undefined, raw: Buffer | undefined): Promise<void> {
    if (this.deleting.has(record.id)) return;
    if (annotated) await this.writeAtomic(this.fileOf(record.id, 'annotated'), annotated);
    if (raw) await this.writeAtomic(this.fileOf(record.id, 'raw'), raw);
    record.snapshots = { annotated: record.snapshots.annotated || !!annotated, raw: record.snapshots.raw || !!raw };
    await this.save(record);
    this.enforceRetention();
  }

  get(id: string): EventRecord | undefined {
    return EVENT_ID.test(id) ? this.entries.get(id)?.record : undefined;
  }

  snapshotFile(id: string, kind: SnapshotKind): string | undefined {
    const record = this.get(id);
    if (!record || !(kind === 'clip' ? record.clip : record.snapshots[kind])) return undefined;
    const file = this.fileOf(id, kind);
    return fs.existsSync(file) ? file : undefined;
  }

  /** Newest first. */
  list(q: EventQuery): { items: EventRecord[]; total: number } {
    const matching = [...this.entries.values()]
      .map((e) => e.record)
      .filter((r) => (q.label === undefined || r.label === q.label) && (q.since === undefined || r.start >= q.since) && (q.until === undefined || r.start < q.until))
      .sort((a, b) => b.start - a.start || (a.id < b.id ? 1 : -1));
    return { items: matching.slice(q.offset, q.offset + q.limit), total: matching.length };
  }

  delete(id: string): boolean {
    if (!this.get(id)) return false;
    this.drop(id);
    return true;
  }

  deleteAll(): number {
    const ids = [...this.entries.keys()];
    for (const id of ids) this.drop(id);
    return ids.length;
  }

  /** Deletes ended events older than events.retentionDays, then the oldest until within events.maxStorageMB. */
  enforceRetention(): string[] {
    const removed: string[] = [];
    const cutoff = this.now() - this.options.retentionMs;
    const oldestFirst = [...this.entries.values()].sort((a, b) => a.record.start - b.record.start);
    for (const e of oldestFirst) {
      const r = e.record;
      const open = r.end === null;
      if (open) continue;
      if ((r.end ?? r.start) < cutoff || this.totalBytes > this.options.maxBytes) {
        this.drop(r.id);
        removed.push(r.id);
      }
    }
    if (removed.length) {
      this.deletedByRetention += removed.length;
      this.options.log.info({ removed: removed.length, bytes: this.totalBytes }, `events: retention removed ${removed.length} event(s)`);
    }
    return removed;
  }

  private index(record: EventRecord): void {
    const old = this.entries.get(record.id);
    if (old) this.totalBytes -= old.bytes;
    const bytes = this.sizeOf(record.id);
    this.entries.set(record.id, { record, bytes });
    this.totalBytes += bytes;
  }

  private drop(id: string): void {
    this.deleting.add(id);
    // Ids of deleted events are remembered only while writes could still be under way for them.
    if (this.deleting.size > 1000) this.deleting.delete(this.deleting.values().next().value!);
    const e = this.entries.get(id);
    if (e) this.totalBytes -= e.bytes;
    this.entries.delete(id);
    this.removeFiles(id);
  }

  private sizeOf(id: string): number {
    let bytes = 0;
    for (const file of this.filesOf(id)) {
      try {
        bytes += fs.statSync(file).size;
      } catch {
        // absent
      }
    }
    return bytes;
  }

  private removeFiles(id: string): void {
    for (const file of this.filesOf(id)) fs.rmSync(file, { force: true });
  }

  private jsonOf(id: string): string {
    return path.join(this.options.dir, `${id}.json`);
  }

  fileOf(id: string, kind: SnapshotKind): string {
    return path.join(this.options.dir, kind === 'raw' ? `${id}.raw.jpg` : kind === 'clip' ? `${id}.avi` : `${id}.jpg`);
  }

  private filesOf(id: string): string[] {
    return [this.jsonOf(id), this.fileOf(id, 'annotated'), this.fileOf(id, 'raw'), this.fileOf(id, 'clip')];
  }

  /**
   * Writes an event's clip from its parts (sequential writes on the thread pool, no joined copy),
   * then records it in the event. False when the event is gone (deleted meanwhile).
   */
  async saveClip(id: string, parts: readonly Buffer[], clip: NonNullable<EventRecord['clip']>): Promise<boolean> {
    if (!this.get(id) || this.deleting.has(id)) return false;
    const file = this.fileOf(id, 'clip');
    const tmp = `${file}.tmp`;
    const handle = await fs.promises.open(tmp, 'w');
    try {
      for (const part of parts) await handle.write(part);
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
    const record = this.get(id);
    if (!record || this.deleting.has(id)) {
      fs.rmSync(file, { force: true });
      return false;
    }
    await this.save({ ...record, clip });
    this.enforceRetention();
    return true;
  }

  /** At start-up only (before frames flow). */
  private writeJson(record: EventRecord): void {
    const file = this.jsonOf(record.id);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(record));
    fs.renameSync(`${file}.tmp`, file);
  }

  private async writeAtomic(file: string, data: Buffer): Promise<void> {
    const tmp = `${file}.tmp`;
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, file);
  }
}
