import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { Zip, ZipPassThrough } from 'fflate';

export interface ZipEntry {
  /** Name inside the zip (label/name.jpg). */
  name: string;
  file: string;
  /** Read at most this many bytes (a file that is appended to, such as the index). */
  maxBytes?: number;
}

/**
 * Writes a store-only zip (JPEGs do not compress) to `out` while the files are read: one read
 * buffer at a time, waiting for the socket to drain, so memory stays flat however large the
 * dataset. A file that is gone by the time its turn comes (deleted meanwhile) is left out.
 * Resolves when the zip is complete, or early when `out` is closed by the client.
 */
export async function writeZip(entries: Iterable<ZipEntry>, out: Writable): Promise<void> {
  let failed: Error | undefined;
  let finished = false;
  const zip = new Zip((err, chunk, final) => {
    if (err) {
      failed = err;
      return;
    }
    if (!out.destroyed) out.write(chunk);
    if (final) finished = true;
  });
  // Waits for the socket to take what it has (or to close), leaving no listener behind.
  const drained = () =>
    new Promise<void>((resolve) => {
      if (!out.writableNeedDrain || out.destroyed) return resolve();
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
    });
  for (const entry of entries) {
    if (out.destroyed) return;
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(entry.file, 'r');
    } catch {
      continue;
    }
    try {
      const stat = await handle.stat();
      const file = new ZipPassThrough(entry.name);
      file.mtime = stat.mtime;
      zip.add(file);
      let left = Math.min(stat.size, entry.maxBytes ?? Number.POSITIVE_INFINITY);
      const buffer = Buffer.allocUnsafe(64 * 1024);
      while (left > 0) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, left));
        if (bytesRead === 0) break;
        left -= bytesRead;
        // fflate keeps a reference until it has written the chunk out, which it does at once.
        file.push(new Uint8Array(buffer.subarray(0, bytesRead)), false);
        if (failed) throw failed;
        await drained();
        if (out.destroyed) return;
      }
      file.push(new Uint8Array(0), true);
    } finally {
      await handle.close();
    }
  }
  zip.end();
  if (failed) throw failed;
  if (!finished) throw new Error('zip did not finish');
  out.end();
}
