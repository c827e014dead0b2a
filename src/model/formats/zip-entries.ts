import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { ModelPackageError } from '../../util/errors';

const inflateRaw = promisify(zlib.inflateRaw);
// zlib.crc32 arrived in Node 20.15; older 20.x skip the CRC check (sizes are still checked).
const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

interface Entry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Reads the named entries of a zip held in memory, refusing what a hostile or broken archive
 * does: names that climb out (`..`, absolute paths), declared sizes past `maxTotalBytes`
 * (a zip bomb is refused before anything is inflated, and inflating stops at the declared size),
 * an entry whose bytes do not inflate to its declared size or CRC, a truncated archive.
 * A stored entry is returned as a view of `bytes`, without a copy.
 */
export async function readZipEntries(bytes: Uint8Array, wanted: string[], maxTotalBytes: number, file: string): Promise<Map<string, Uint8Array>> {
  const entries = centralDirectory(bytes, file);
  let declared = 0;
  for (const e of entries) {
    if (e.name.split(/[\\/]/).includes('..') || e.name.startsWith('/') || /^[a-zA-Z]:/.test(e.name)) throw new ModelPackageError(file, `zip entry '${e.name}' points outside the archive`);
    declared += e.size;
  }
  if (declared > maxTotalBytes) throw new ModelPackageError(file, `zip entries declare ${declared} bytes uncompressed, more than the ${maxTotalBytes} allowed`);
  const out = new Map<string, Uint8Array>();
  for (const name of wanted) {
    const e = entries.find((x) => x.name === name);
    if (e) out.set(name, await entryBytes(bytes, e, file));
  }
  return out;
}

function centralDirectory(bytes: Uint8Array, file: string): Entry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ModelPackageError(file, 'is truncated or not a zip archive (no end of central directory)');
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL_SIGNATURE) throw new ModelPackageError(file, 'has a corrupt zip central directory');
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    entries.push({
      name: Buffer.from(bytes.subarray(at + 46, at + 46 + nameLength)).toString('utf8'),
      method: view.getUint16(at + 10, true),
      crc: view.getUint32(at + 16, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      localOffset: view.getUint32(at + 42, true),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

async function entryBytes(bytes: Uint8Array, e: Entry, file: string): Promise<Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (e.localOffset + 30 > bytes.length || view.getUint32(e.localOffset, true) !== LOCAL_SIGNATURE) throw new ModelPackageError(file, `zip entry '${e.name}' has no local header (corrupt or truncated)`);
  const start = e.localOffset + 30 + view.getUint16(e.localOffset + 26, true) + view.getUint16(e.localOffset + 28, true);
  const end = start + e.compressedSize;
  if (end > bytes.length) throw new ModelPackageError(file, `is truncated: zip entry '${e.name}' ends at byte ${end} but the file has ${bytes.length}`);
  const raw = bytes.subarray(start, end);
  let data: Uint8Array;
  if (e.method === STORED) {
    if (e.compressedSize !== e.size) throw new ModelPackageError(file, `zip entry '${e.name}' is stored but declares ${e.size} bytes in ${e.compressedSize}`);
    data = raw;
  } else if (e.method === DEFLATED) {
    try {
      data = await inflateRaw(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      throw new ModelPackageError(file, `zip entry '${e.name}' does not inflate to its declared ${e.size} bytes (${(err as Error).message})`);
    }
  } else {
    throw new ModelPackageError(file, `zip entry '${e.name}' uses compression method ${e.method} (stored and deflate only)`);
  }
  if (data.length !== e.size) throw new ModelPackageError(file, `zip entry '${e.name}' has ${data.length} bytes, its header declares ${e.size}`);
  if (crc32 && crc32(data) >>> 0 !== e.crc) throw new ModelPackageError(file, `zip entry '${e.name}' fails its CRC check (corrupt)`);
  return data;
}
