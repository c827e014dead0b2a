/**
 * Worker thread: unpacks an uploaded zip file into a fresh folder, holding every entry to the
 * size its central directory declares. Inflating runs here, never on the daemon's main thread,
 * so a zip bomb costs this thread (which the caller terminates) and not the stream.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parentPort, workerData } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import { UploadError } from './package-names';
import { entryDataStart, readZipDirectory, type ZipEntry } from './zip-directory';
import { planZip } from './zip-plan';

export interface UnpackJob {
  zipFile: string;
  dir: string;
  maxBytes: number;
  maxFiles: number;
}

export type UnpackResult = { ok: true; files: number } | { ok: false; status: number; message: string };

/** Counts what an entry really inflates to and refuses it the moment it departs from its claim. */
class EntryMeter extends Transform {
  private produced = 0;
  private crc = 0;

  constructor(private readonly entry: ZipEntry, private readonly budget: { left: number; maxBytes: number }) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.produced += chunk.length;
    this.budget.left -= chunk.length;
    const name = JSON.stringify(this.entry.name);
    if (this.produced > this.entry.size) return done(new UploadError(400, `zip entry ${name} inflates to more than the ${this.entry.size} bytes its header declares (refused at ${this.produced})`));
    if (this.budget.left < 0) return done(new UploadError(413, `package unpacks to more than ${this.budget.maxBytes} bytes (server.maxUploadMB), at zip entry ${name}`));
    this.crc = zlib.crc32(chunk, this.crc);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const name = JSON.stringify(this.entry.name);
    if (this.produced !== this.entry.size) return done(new UploadError(400, `zip entry ${name} inflates to ${this.produced} bytes, not the ${this.entry.size} its header declares`));
    if (this.crc >>> 0 !== this.entry.crc >>> 0) return done(new UploadError(400, `zip entry ${name} fails its CRC-32 check (the zip is damaged)`));
    done();
  }
}

async function unpack({ zipFile, dir, maxBytes, maxFiles }: UnpackJob): Promise<number> {
  const fh = await fs.promises.open(zipFile, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    // Folders have entries of their own in most zips, so the directory may list more than maxFiles.
    const plan = planZip(await readZipDirectory(fh, fileSize, 2 * maxFiles), maxBytes, maxFiles);
    const budget = { left: maxBytes, maxBytes };
    for (const { entry, relative } of plan) {
      const start = await entryDataStart(fh, entry);
      if (start + entry.compressedSize > fileSize) throw new UploadError(400, `not a readable zip file: zip entry ${JSON.stringify(entry.name)} runs past the end of the file`);
      const target = path.join(dir, relative);
      await fs.promises.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      const compressed = entry.compressedSize === 0 ? Readable.from([]) : fs.createReadStream(zipFile, { start, end: start + entry.compressedSize - 1 });
      const stages = entry.method === 8 ? [zlib.createInflateRaw()] : [];
      try {
        // 'wx': the plan already refused duplicates; never write through something already there.
        await pipeline([compressed, ...stages, new EntryMeter(entry, budget), fs.createWriteStream(target, { flags: 'wx', mode: 0o600 })]);
      } catch (err) {
        if (err instanceof UploadError) throw err;
        // zlib's own codes (Z_DATA_ERROR, Z_BUF_ERROR) mean a damaged entry; anything else (a full disk) is ours.
        if (!String((err as NodeJS.ErrnoException).code ?? '').startsWith('Z_')) throw err;
        throw new UploadError(400, `zip entry ${JSON.stringify(entry.name)} cannot be inflated: ${(err as Error).message}`);
      }
    }
    return plan.length;
  } finally {
    await fh.close();
  }
}

if (parentPort) {
  const port = parentPort;
  unpack(workerData as UnpackJob).then(
    (files) => port.postMessage({ ok: true, files } satisfies UnpackResult),
    (err: Error) => port.postMessage({ ok: false, status: err instanceof UploadError ? err.status : 500, message: err.message } satisfies UnpackResult),
  );
}
