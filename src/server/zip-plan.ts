import { holdsModelAtTop, PackageNames, safeRelativePath, UploadError } from './package-names';
import type { ZipEntry } from './zip-directory';

export interface PlannedFile {
  entry: ZipEntry;
  /** The file's path in the package, from safeRelativePath (platform separators). */
  relative: string;
}

/**
 * Decides, from the central directory alone, which entries become which package files, and
 * refuses the zip before anything is written: unsafe names, file/folder conflicts, duplicates,
 * encrypted or unknown compression, too many files, or declared sizes over `maxBytes`. The
 * declared sizes are only claims; the unpacker holds each entry to its claim while inflating.
 */
export function planZip(entries: ZipEntry[], maxBytes: number, maxFiles: number): PlannedFile[] {
  const fileNames = entries.filter((e) => !e.name.endsWith('/')).map((e) => e.name);
  if (fileNames.length > maxFiles) throw new UploadError(413, `more than ${maxFiles} files`);
  // A zip of the package folder itself ("mymodel/model.json") is accepted as well.
  const top = fileNames[0]?.split('/')[0];
  const strip = !holdsModelAtTop(fileNames) && top && entries.every((e) => e.name.startsWith(top + '/')) ? top.length + 1 : 0;

  const names = new PackageNames();
  const files: PlannedFile[] = [];
  let declared = 0;
  for (const entry of entries) {
    const isFolder = entry.name.endsWith('/');
    const name = (isFolder ? entry.name.slice(0, -1) : entry.name).slice(strip);
    if (isFolder) {
      // The package folder's own entry ("mymodel/") is stripped to nothing.
      if (name.length === 0 && strip > 0) continue;
      safeRelativePath(name);
      names.folder(name);
      continue;
    }
    const relative = safeRelativePath(name);
    names.file(name);
    if (entry.flags & 1) throw new UploadError(400, `zip entry ${JSON.stringify(entry.name)} is encrypted`);
    if (entry.method !== 0 && entry.method !== 8) throw new UploadError(400, `zip entry ${JSON.stringify(entry.name)} uses compression method ${entry.method}; only stored (0) and deflate (8) are read`);
    if (entry.method === 0 && entry.compressedSize !== entry.size) throw new UploadError(400, `zip entry ${JSON.stringify(entry.name)} is stored uncompressed but declares ${entry.compressedSize} bytes stored and ${entry.size} unpacked`);
    declared += entry.size;
    if (declared > maxBytes) throw new UploadError(413, `package unpacks to more than ${maxBytes} bytes (server.maxUploadMB), by the sizes its zip declares`);
    files.push({ entry, relative });
  }
  return files;
}
