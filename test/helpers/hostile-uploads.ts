import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { defaultModelDir } from './fixtures';

export interface RawZipEntry {
  name: string;
  /** The entry's bytes as stored in the zip (raw deflate when `deflated`). */
  stored: Buffer;
  deflated: boolean;
  /** The unpacked size the headers declare (may be a lie). */
  declaredSize: number;
  crc: number;
}

/** An honest entry: `data` deflated, with its true size and CRC. */
export function honestEntry(name: string, data: Buffer): RawZipEntry {
  return { name, stored: zlib.deflateRawSync(data), deflated: true, declaredSize: data.length, crc: zlib.crc32(data) };
}

/**
 * Raw deflate of `bytes` zeros, made in 1 MB steps on zlib's thread pool (a 256 MB input is
 * never held whole). Zeros compress about 1000:1, so this is the bomb's payload.
 */
export async function deflatedZeros(bytes: number): Promise<Buffer> {
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve, reject) => deflate.on('end', resolve).on('error', reject));
  const mb = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= mb.length) {
    if (!deflate.write(left >= mb.length ? mb : mb.subarray(0, left))) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return Buffer.concat(out);
}

/**
 * The bytes of a zip file, written header by header, so a test can make its local and central
 * headers declare whatever size it likes for an entry (fflate and Node write only honest zips).
 */
export function zipBytes(entries: RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const fields = (h: Buffer, at: number) => {
      h.writeUInt16LE(20, at); // version needed
      h.writeUInt16LE(0x0800, at + 2); // flags: UTF-8 names
      h.writeUInt16LE(e.deflated ? 8 : 0, at + 4);
      h.writeUInt32LE(0, at + 6); // DOS time and date
      h.writeUInt32LE(e.crc >>> 0, at + 10);
      h.writeUInt32LE(e.stored.length, at + 14);
      h.writeUInt32LE(e.declaredSize, at + 18);
      h.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields(local, 4);
    locals.push(local, name, e.stored);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // version made by
    fields(central, 6);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + e.stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The default model's files as honest zip entries, with metadata.json's version set to `version`. */
export function defaultModelEntries(version: string): RawZipEntry[] {
  return fs.readdirSync(defaultModelDir).map((name) => {
    let data = fs.readFileSync(path.join(defaultModelDir, name));
    if (name === 'metadata.json') data = Buffer.from(JSON.stringify({ ...JSON.parse(data.toString('utf8')), version }));
    return honestEntry(name, data);
  });
}

/** A multipart/form-data body, one part per [file name, content], in the shape `edgesight deploy` sends. */
export function multipartParts(boundary: string, files: Array<[string, string | Buffer]>): Buffer[] {
  const parts = files.map(([name, content]) =>
    Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`), Buffer.from(content), Buffer.from('\r\n')]),
  );
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return parts;
}

/**
 * POSTs `chunks` to `url` over a real connection, waiting `pauseMs` between them, and resolves
 * with the answer (which may come before the last chunk is written).
 */
export function postInChunks(url: string, headers: Record<string, string>, chunks: Buffer[], pauseMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'Content-Length': String(chunks.reduce((n, c) => n + c.length, 0)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    void (async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, pauseMs));
        if (req.destroyed) return;
        req.write(chunk);
      }
      req.end();
    })();
  });
}

/** Longest gap between ticks of a 10 ms timer while `work` runs: how long the event loop stalled. */
export async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last - 10);
    last = now;
  }, 10);
  try {
    const result = await work();
    return { result, stallMs: Math.max(stallMs, performance.now() - last - 10) };
  } finally {
    clearInterval(timer);
  }
}
