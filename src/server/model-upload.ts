import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline as pipeStreams } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { Request } from 'express';
import busboy from 'busboy';
import { PACKAGE_LIMITS } from '../model/package-limits';
import { holdsModelAtTop, PackageNames, safeRelativePath, UploadError } from './package-names';
import { unpackZipInWorker } from './zip-unpack';

export { safeRelativePath, UploadError } from './package-names';

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
    if (!holdsModelAtTop(fs.readdirSync(dir))) throw new UploadError(400, 'the upload holds no model.json and no single Keras file (.h5, .hdf5, .keras) at its top level');
    return dir;
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function overLimit(maxBytes: number): UploadError {
  return new UploadError(413, `package is over the ${maxBytes}-byte limit (server.maxUploadMB)`);
}

/** Passes bytes through and fails once more than `maxBytes` have gone by (`total` is shared across files). */
function byteCounter(total: { bytes: number }, maxBytes: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      total.bytes += chunk.length;
      if (total.bytes > maxBytes) return done(overLimit(maxBytes));
      done(null, chunk);
    },
  });
}

/** Calls `onCut` if the client goes away before the body is complete (nothing else would end the upload). */
function whenCutOff(req: Request, onCut: (err: UploadError) => void): void {
  req.once('close', () => {
    if (!req.complete) onCut(new UploadError(400, 'the upload was cut off before its end'));
  });
}

function receiveMultipart(req: Request, dir: string, maxBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const names = new PackageNames();
    const total = { bytes: 0 };
    let failed: Error | undefined;
    /** Part streams still being written, so a failure can stop them. */
    const open = new Set<Readable>();
    const writes: Promise<unknown>[] = [];
    // Settle only once every write has let go of its file: the caller then removes the folder
    // knowing nothing recreates a file in it afterwards.
    const settle = () => void Promise.allSettled(writes).then(() => (failed ? reject(failed) : resolve()));
    let parser: busboy.Busboy;
    const fail = (err: Error) => {
      if (failed) return;
      failed = err;
      req.unpipe(parser);
      // Drain the rest of the body so the refusal can still be answered on this connection.
      req.resume();
      // With the error: a source destroyed without one leaves pipeline() waiting forever.
      for (const stream of open) stream.destroy(err);
      settle();
    };
    try {
      // fileSize one byte over the limit: busboy truncates silently at the limit, the counter refuses.
      parser = busboy({ headers: req.headers, preservePath: true, limits: { files: PACKAGE_LIMITS.maxFiles, fields: 20, fileSize: maxBytes + 1 } });
    } catch (err) {
      return reject(new UploadError(400, `malformed multipart upload: ${(err as Error).message}`));
    }
    // Runs inside the request's 'data' event: anything thrown here would end the process, so
    // every error goes to fail() instead.
    parser.on('file', (_field, stream, info) => {
      if (failed) return void stream.resume();
      try {
        const name = info.filename ?? '';
        const relative = safeRelativePath(name);
        names.file(name);
        const target = path.join(dir, relative);
        fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
        open.add(stream);
        // 'wx': names.file() refused duplicates already; never write through something already there.
        const write = pipeStreams(stream, byteCounter(total, maxBytes), fs.createWriteStream(target, { flags: 'wx', mode: 0o600 }));
        writes.push(write.catch((err: Error) => fail(err)).finally(() => open.delete(stream)));
      } catch (err) {
        stream.resume();
        fail(err as Error);
      }
    });
    parser.on('filesLimit', () => fail(new UploadError(413, `more than ${PACKAGE_LIMITS.maxFiles} files`)));
    parser.on('error', (err: Error) => fail(new UploadError(400, `malformed multipart upload: ${err.message}`)));
    parser.on('close', () => failed ?? settle());
    whenCutOff(req, fail);
    req.pipe(parser);
  });
}

/**
 * The zip goes to a file beside the upload folder as it arrives (never whole in memory), then
 * a worker thread unpacks it into the folder, holding each entry to its declared size.
 */
async function receiveZip(req: Request, dir: string, maxBytes: number): Promise<void> {
  const zipFile = `${dir}.zip`;
  try {
    await saveBody(req, zipFile, maxBytes);
    await unpackZipInWorker({ zipFile, dir, maxBytes, maxFiles: PACKAGE_LIMITS.maxFiles });
  } finally {
    await fsp.rm(zipFile, { force: true });
  }
}

function saveBody(req: Request, file: string, maxBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const counter = byteCounter({ bytes: 0 }, maxBytes);
    whenCutOff(req, (err) => counter.destroy(err));
    req.on('error', (err) => counter.destroy(err));
    pipeStreams(counter, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 })).then(resolve, (err: Error) => {
      // Not req.destroy(): drain the rest so the refusal can still be answered.
      req.unpipe(counter);
      req.resume();
      reject(err);
    });
    req.pipe(counter);
  });
}
