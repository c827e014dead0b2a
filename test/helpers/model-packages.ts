import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { defaultModelDir, tempDir, writeMnistPngs } from './fixtures';

/** A copy of the default model renamed as version `version`, optionally with a self-test folder. */
export function digitsPackage(version: string, selftest?: Array<{ label: string; digit: number }>): string {
  const dir = path.join(tempDir('edgesight-pkg-'), `digits-${version}`);
  fs.cpSync(defaultModelDir, dir, { recursive: true });
  editJson(path.join(dir, 'metadata.json'), (meta) => ({ ...meta, version }));
  if (selftest) {
    const pngs = writeMnistPngs(tempDir(), 1);
    for (const { label, digit } of selftest) {
      const folder = path.join(dir, 'selftest', label);
      fs.mkdirSync(folder, { recursive: true });
      fs.copyFileSync(pngs[digit].file, path.join(folder, `digit-${digit}.png`));
    }
  }
  return dir;
}

/** Rewrites a JSON file through `edit`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function editJson(file: string, edit: (value: any) => unknown): void {
  fs.writeFileSync(file, JSON.stringify(edit(JSON.parse(fs.readFileSync(file, 'utf8')))));
}

/** A package folder as multipart form data, one part per file named by its path in the package. */
export function formOf(dir: string, rename: (file: string) => string = (f) => f): FormData {
  const form = new FormData();
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const relative = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(relative);
      else form.append('file', new Blob([fs.readFileSync(path.join(dir, relative))]), rename(relative));
    }
  };
  walk('');
  return form;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A valid, all-black grayscale PNG of width x height: a decompression bomb when large (16000 x
 * 16000 is about 250 KB on disk and 256 MB decoded as gray, 768 MB as BGR). Rows are deflated
 * as a stream, never held whole.
 */
export async function writeBlackPng(file: string, width: number, height: number): Promise<void> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const row = Buffer.alloc(width + 1); // filter byte 0, then black pixels
  const deflate = zlib.createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise((resolve) => deflate.on('end', resolve));
  for (let y = 0; y < height; y++) if (!deflate.write(row)) await new Promise((resolve) => deflate.once('drain', resolve));
  deflate.end();
  await done;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  fs.writeFileSync(file, Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(parts)), pngChunk('IEND', Buffer.alloc(0))]));
}
