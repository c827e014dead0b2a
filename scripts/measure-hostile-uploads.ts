/**
 * What hostile uploads cost the stream (issue 16's done-when: frames/s and latency within 10%
 * of idle). Method, fixed before the runs reported in the README: the real daemon in this
 * process on the 30 fps 640x480 test clip with the default model and one socket.io viewer;
 * SECONDS idle, then SECONDS of back-to-back uploads of each hostile kind, sent by a separate
 * uploader process (so that building and sending 18 MB bodies is not charged to the daemon's
 * event loop). Prints, per window: frames classified per second, the viewer's capture-to-client
 * latency (median, p95) and the longest event-loop stall in the daemon's process.
 * `npm run measure:uploads [kind ...]`; kinds below, all by default. The two `large-*` kinds are
 * the issue 15 check: a legitimate 60 MB package streamed to a temporary file in the state
 * directory and unpacked off the main thread must keep the stream within 10% of idle.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { startTestDaemon, sleep, type TestDaemon } from '../test/helpers/daemon';
import { defaultModelEntries, deflatedZeros, honestEntry, longestStall, multipartParts, postInChunks, zipBytes, type RawZipEntry } from '../test/helpers/hostile-uploads';
import { LiveClient } from '../test/helpers/live-client';
import { digitsPackage, editJson, writeBlackPng } from '../test/helpers/model-packages';
import { spreadOf } from '../src/bench/samples';

const SECONDS = 6;
const BOUNDARY = 'measure-boundary';
type Body = [contentType: string, chunks: Buffer[], pauseMs: number];

/** A package folder as multipart chunks, one part per file. */
function multipartOf(dir: string): Buffer[] {
  const files: Array<[string, Buffer]> = [];
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const relative = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(relative);
      else files.push([relative, fs.readFileSync(path.join(dir, relative))]);
    }
  };
  walk('');
  return [Buffer.concat(multipartParts(BOUNDARY, files))];
}

const multipart = `multipart/form-data; boundary=${BOUNDARY}`;

const hostileBodies: Record<string, () => Promise<Body>> = {
  // As in the issue: 16 entries, each declaring 1,000 bytes and inflating to 1.1 GB (17 MB of zip).
  bomb: async () => {
    const payload = await deflatedZeros(1100 << 20);
    const bomb: RawZipEntry[] = Array.from({ length: 16 }, (_, i) => ({ name: `junk-${i}.bin`, stored: payload, deflated: true, declaredSize: 1000, crc: zlib.crc32(Buffer.alloc(1000)) }));
    return ['application/zip', [zipBytes([...defaultModelEntries('bomb'), ...bomb])], 0];
  },
  'conflict-chunks': async () => {
    const [extra, inside, end] = multipartParts(BOUNDARY, [
      ['extra', 'a file'],
      ['extra/x', 'b'],
    ]);
    return [multipart, [extra, Buffer.concat([inside, end])], 200];
  },
  'conflict-zip': async () => ['application/zip', [zipBytes([honestEntry('model.json', Buffer.from('{}')), honestEntry('model.json/x', Buffer.from('x'))])], 0],
  'short-zip': async () => ['application/zip', [zipBytes([...defaultModelEntries('short'), { ...honestEntry('extra.bin', Buffer.alloc(10)), declaredSize: 1000 }])], 0],
  // Refused by the topology check before anything is built.
  'wide-dense': async () => {
    const pkg = digitsPackage('wide');
    editJson(path.join(pkg, 'model.json'), (m) => ((m.modelTopology.config.layers[5].config.units = 300000), m));
    return [multipart, multipartOf(pkg), 0];
  },
  // Passes the file checks; TF.js fails to build it in the check process.
  unbuildable: async () => {
    const pkg = digitsPackage('unbuildable');
    editJson(path.join(pkg, 'model.json'), (m) => ((m.weightsManifest[0].weights[7].name = 'dense_Dense2/offset'), m));
    return [multipart, multipartOf(pkg), 0];
  },
  // A 16000x16000 PNG of 250 KB among the self-test images.
  'selftest-bomb': async () => {
    const pkg = digitsPackage('selftest-bomb');
    fs.mkdirSync(path.join(pkg, 'selftest', '0'), { recursive: true });
    await writeBlackPng(path.join(pkg, 'selftest', '0', 'huge.png'), 16000, 16000);
    return [multipart, multipartOf(pkg), 0];
  },
  // Not hostile: a good package of 60 MB (the default model and 60 MB of incompressible notes),
  // as a zip and as `edgesight deploy` sends it; each upload is received, unpacked, checked and swapped in.
  'large-zip': async () => ['application/zip', [zipBytes([...defaultModelEntries('large-zip'), honestEntry('notes/blob.bin', randomBytes(LARGE_BYTES))])], 0],
  'large-multipart': async () => {
    const pkg = digitsPackage('large-multipart');
    fs.mkdirSync(path.join(pkg, 'notes'));
    fs.writeFileSync(path.join(pkg, 'notes', 'blob.bin'), randomBytes(LARGE_BYTES));
    return [multipart, multipartOf(pkg), 0];
  },
};

/** The large uploads' extra file: 60 MB, under the 64 MB server.maxUploadMB with the model beside it. */
const LARGE_BYTES = 60 * 1024 * 1024;

/**
 * Runs in the uploader process: builds the body, says it is ready, then on the parent's word
 * posts `kind` back to back until the deadline and reports what happened.
 */
async function uploader(kind: string, base: string, token: string): Promise<void> {
  const [type, chunks, pauseMs] = await hostileBodies[kind]();
  const start = new Promise<{ until: number }>((resolve) => process.once('message', resolve));
  process.send?.('ready');
  const { until } = await start;
  let uploads = 0;
  let first = '';
  while (Date.now() < until) {
    const res = await postInChunks(base + '/api/model', { Authorization: `Bearer ${token}`, 'Content-Type': type }, chunks, pauseMs);
    if (uploads === 0) first = `${res.status} ${res.text.slice(0, 240)}`;
    uploads++;
  }
  process.send?.({ uploads, first }, () => process.disconnect());
}

/** Starts an uploader process, waits until its body is built, then measures the daemon while it posts. */
async function hostileWindow(d: TestDaemon, viewer: LiveClient, kind: string): Promise<string> {
  const child = fork(__filename, ['--uploader', kind, d.base, d.token], { stdio: 'inherit' });
  const messages: unknown[] = [];
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.on('message', (m) => messages.push(m));
  while (!messages.includes('ready')) await sleep(50);
  child.send({ until: Date.now() + SECONDS * 1000 });
  let report: { uploads: number; first: string } | undefined;
  const row = await window(d, viewer, async () => {
    await exited;
    report = messages.find((m) => typeof m === 'object') as typeof report;
    return report?.uploads ?? 0;
  });
  console.log(`  ${kind}: first answer ${report?.first ?? 'none'}`);
  return row;
}

async function window(d: TestDaemon, viewer: LiveClient, work: () => Promise<number>): Promise<string> {
  const stats = d.daemon.pipeline!.stats;
  viewer.frames.length = 0;
  const classified = stats.classified;
  const started = performance.now();
  const { result: uploads, stallMs } = await longestStall(work);
  const seconds = (performance.now() - started) / 1000;
  const latencies = viewer.frames.map((f) => f.receivedAt - f.meta.capturedAt);
  return `${((stats.classified - classified) / seconds).toFixed(1)} frames/s, latency median ${spreadOf(latencies).median} ms p95 ${spreadOf(latencies).p95} ms, longest stall ${Math.round(stallMs)} ms, ${uploads} uploads`;
}

async function main(): Promise<void> {
  const kinds = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(hostileBodies);
  const unknown = kinds.filter((k) => !(k in hostileBodies));
  if (unknown.length) throw new Error(`unknown kind(s) ${unknown.join(', ')}; known: ${Object.keys(hostileBodies).join(', ')}`);
  const d = await startTestDaemon();
  const viewer = new LiveClient(d.base, { token: d.token });
  try {
    await viewer.connected();
    await sleep(2000);
    console.log(`idle: ${await window(d, viewer, async () => (await sleep(SECONDS * 1000), 0))}`);
    for (const kind of kinds) console.log(`${kind}: ${await hostileWindow(d, viewer, kind)}`);
    console.log(`idle again: ${await window(d, viewer, async () => (await sleep(SECONDS * 1000), 0))}`);
  } finally {
    viewer.close();
    await d.stop();
  }
}

if (process.argv[2] === '--uploader') {
  const [, , , kind, base, token] = process.argv;
  void uploader(kind, base, token);
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
