import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline as pipeStreams } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Request } from 'express';
import busboy from 'busboy';
import { unzipSync } from 'fflate';
import { PACKAGE_LIMITS } from '../daemon/model-store';

/** A refused upload, with the HTTP status to answer. */
export class UploadError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const SEGMENT = /^[\w\-.+@() ]+$/;

/**
 * The relative path a package file may have: plain names joined by '/', no '..', no absolute
 * path, no backslash or control character, at most PACKAGE_LIMITS.maxDepth folders deep.
 * Anything else is refused by name (a path traversal attempt never touches the disk).
 */
export function safeRelativePath(name: string): string {
  const segments = name.split('/');
  const ok =
    name.length > 0 &&
    name.length <= 255 &&
    segments.length <= PACKAGE_LIMITS.maxDepth + 1 &&
    segments.every((s) => s !== '.' && s !== '..' && !s.startsWith('.') && SEGMENT.test(s));
  if (!ok) throw new UploadError(400, `refused file name ${JSON.stringify(name)}: package files must be plain relative names such as model.json or selftest/cat/1.jpg`);
  return segments.join(path.sep);
}

/**
 * Receives a model package into a fresh folder under `root`: either multipart/form-data with
 * one part per file (the part's file name is its path in the package, as `edgesight deploy`
 * sends it) or an application/zip body. Size-limited as a whole; returns the folder.
 */
export async function receivePackage(req: Request, root: string, maxBytes: number): Promise<string> {
  const type = String(req.headers['content-type'] ?? '');
  const length = Number(req.headers['content-length']);
  if (Number.isFinite(length) && length > maxBytes) throw new UploadError(413, `package of ${length} bytes is over the ${maxBytes}-byte limit (server.maxUploadMB)`);
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = path.join(root, randomBytes(8).toString('hex'));
  fs.mkdirSync(dir, { mode: 0o700 });
  try {
    if (type.startsWith('multipart/form-data')) await receiveMultipart(req, dir, maxBytes);
    else if (type.startsWith('application/zip')) await receiveZip(req, dir, maxBytes);
    else throw new UploadError(415, `send the package as multipart/form-data (one part per file) or application/zip, not ${type || 'no content type'}`);
    if (!fs.existsSync(path.join(dir, 'model.json'))) throw new UploadError(400, 'the upload holds no model.json at its top level');
    return dir;
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function receiveMultipart(req: Request, dir: string, maxBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let total = 0;
    let failed: Error | undefined;
    const writes: Promise<void>[] = [];
    const fail = (err: Error) => {
      failed ??= err;
      req.unpipe(parser);
      req.resume();
      reject(failed);
    };
    // fileSize one byte over the limit: busboy truncates silently at the limit, the counter below refuses.
    const parser = busboy({ headers: req.headers, preservePath: true, limits: { files: PACKAGE_LIMITS.maxFiles, fields: 20, fileSize: maxBytes + 1 } });
    parser.on('file', (_field, stream, info) => {
      if (failed) return void stream.resume();
      let relative: string;
      try {
        relative = safeRelativePath(info.filename ?? '');
      } catch (err) {
        stream.resume();
        return fail(err as Error);
      }
      const target = path.join(dir, relative);
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          total += chunk.length;
          if (total > maxBytes) return done(new UploadError(413, `package is over the ${maxBytes}-byte limit (server.maxUploadMB)`));
          done(null, chunk);
        },
      });
      writes.push(pipeStreams(stream, counter, fs.createWriteStream(target, { mode: 0o600 })).catch((err: Error) => fail(err)));
    });
    parser.on('filesLimit', () => fail(new UploadError(413, `more than ${PACKAGE_LIMITS.maxFiles} files`)));
    parser.on('error', (err: Error) => fail(new UploadError(400, `malformed multipart upload: ${err.message}`)));
    parser.on('close', () => {
      void Promise.all(writes).then(() => (failed ? reject(failed) : resolve()));
    });
    req.pipe(parser);
  });
}

async function receiveZip(req: Request, dir: string, maxBytes: number): Promise<void> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw new UploadError(413, `package is over the ${maxBytes}-byte limit (server.maxUploadMB)`);
    chunks.push(chunk);
  }
  let entries: Record<string, Uint8Array>;
  try {
    // The filter sees each entry's declared size before inflating, so a zip bomb is refused unread.
    let declared = 0;
    entries = unzipSync(Buffer.concat(chunks), {
      filter: (file) => {
        declared += file.originalSize;
        if (declared > maxBytes) throw new UploadError(413, `package unpacks to more than ${maxBytes} bytes (server.maxUploadMB)`);
        return !file.name.endsWith('/');
      },
    });
  } catch (err) {
    if (err instanceof UploadError) throw err;
    throw new UploadError(400, `not a readable zip file: ${(err as Error).message}`);
  }
  const names = Object.keys(entries);
  if (names.length > PACKAGE_LIMITS.maxFiles) throw new UploadError(413, `more than ${PACKAGE_LIMITS.maxFiles} files`);
  // A zip of the package folder itself ("mymodel/model.json") is accepted as well.
  const top = names[0]?.split('/')[0];
  const strip = !names.includes('model.json') && top && names.every((n) => n.startsWith(top + '/')) ? top.length + 1 : 0;
  for (const name of names) {
    const relative = safeRelativePath(name.slice(strip));
    const target = path.join(dir, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    fs.writeFileSync(target, entries[name], { mode: 0o600 });
  }
}
