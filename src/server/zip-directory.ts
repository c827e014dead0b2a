import type { FileHandle } from 'node:fs/promises';
import { UploadError } from './package-names';

/** One entry of a zip's central directory: what the zip declares, before anything is inflated. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  /** The size the entry declares once inflated; what it really inflates to is checked later. */
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** End-of-central-directory record: 22 bytes plus a comment of at most 65,535. */
const EOCD_MAX = 22 + 0xffff;

function notZip(why: string): UploadError {
  return new UploadError(400, `not a readable zip file: ${why}`);
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  if (bytesRead !== length) throw notZip(`it ends at byte ${position + bytesRead}, inside a header`);
  return buf;
}

/**
 * Reads the central directory of the zip in `fh` (of `fileSize` bytes), refusing more than
 * `maxEntries` entries before reading them. Only the directory is read: nothing is inflated.
 */
export async function readZipDirectory(fh: FileHandle, fileSize: number, maxEntries: number): Promise<ZipEntry[]> {
  const tailStart = Math.max(0, fileSize - EOCD_MAX);
  const tail = await readAt(fh, tailStart, fileSize - tailStart);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0) throw notZip('no end-of-central-directory record');
  const count = tail.readUInt16LE(at + 10);
  const dirSize = tail.readUInt32LE(at + 12);
  const dirOffset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || dirOffset === 0xffffffff) throw notZip('ZIP64 archives are not supported (a model package is far smaller than 4 GB)');
  if (count > maxEntries) throw new UploadError(413, `the zip holds ${count} entries, more than ${maxEntries}`);
  if (dirOffset + dirSize > tailStart + at) throw notZip('its central directory lies outside the file');

  const dir = await readAt(fh, dirOffset, dirSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) throw notZip(`central directory entry ${i + 1} of ${count} is damaged`);
    const nameLength = dir.readUInt16LE(p + 28);
    const end = p + 46 + nameLength + dir.readUInt16LE(p + 30) + dir.readUInt16LE(p + 32);
    if (end > dir.length) throw notZip(`central directory entry ${i + 1} of ${count} is damaged`);
    entries.push({
      flags: dir.readUInt16LE(p + 8),
      method: dir.readUInt16LE(p + 10),
      crc: dir.readUInt32LE(p + 16),
      compressedSize: dir.readUInt32LE(p + 20),
      size: dir.readUInt32LE(p + 24),
      localOffset: dir.readUInt32LE(p + 42),
      name: dir.toString('utf8', p + 46, p + 46 + nameLength),
    });
    p = end;
  }
  return entries;
}

/** Where the entry's compressed bytes begin: after its local header, whose lengths may differ from the central one's. */
export async function entryDataStart(fh: FileHandle, entry: ZipEntry): Promise<number> {
  const local = await readAt(fh, entry.localOffset, 30);
  if (local.readUInt32LE(0) !== LOCAL) throw notZip(`the local header of ${JSON.stringify(entry.name)} is missing`);
  return entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
}
