/**
 * What hostile uploads cost the stream (issue 16's done-when: frames/s and latency within 10%
 * of idle). The real daemon on the 30 fps test clip with the default model and one socket.io
 * viewer; first SECONDS idle, then SECONDS of back-to-back hostile uploads of each kind. Prints
 * frames classified per second, the viewer's capture-to-client latency and the longest
 * event-loop stall for each window. `npm run measure:uploads [kind ...]` (kinds: bomb,
 * conflict-chunks, conflict-zip, short-zip; all by default).
 */
import * as zlib from 'node:zlib';
import { startTestDaemon, sleep, type TestDaemon } from '../test/helpers/daemon';
import { defaultModelEntries, deflatedZeros, honestEntry, longestStall, multipartParts, postInChunks, zipBytes, type RawZipEntry } from '../test/helpers/hostile-uploads';
import { LiveClient } from '../test/helpers/live-client';

const SECONDS = 6;
const BOUNDARY = 'measure-boundary';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

async function hostileBodies(): Promise<Record<string, () => Array<[string, Buffer[], number]>>> {
  // As in the issue: 16 entries, each declaring 1,000 bytes and inflating to 1.1 GB (17 MB of zip).
  const payload = await deflatedZeros(1100 << 20);
  const bomb: RawZipEntry[] = Array.from({ length: 16 }, (_, i) => ({ name: `junk-${i}.bin`, stored: payload, deflated: true, declaredSize: 1000, crc: zlib.crc32(Buffer.alloc(1000)) }));
  const bombZip = zipBytes([...defaultModelEntries('bomb'), ...bomb]);
  const conflictZip = zipBytes([honestEntry('model.json', Buffer.from('{}')), honestEntry('model.json/x', Buffer.from('x'))]);
  const shortZip = zipBytes([...defaultModelEntries('short'), { ...honestEntry('extra.bin', Buffer.alloc(10)), declaredSize: 1000 }]);
  const [extra, inside, end] = multipartParts(BOUNDARY, [
    ['extra', 'a file'],
    ['extra/x', 'b'],
  ]);
  console.log(`bomb zip: ${(bombZip.length / 1e6).toFixed(1)} MB, 16 entries declaring 1000 bytes and inflating to ${(1100 * 1.048576).toFixed(0)} MB each`);
  return {
    bomb: () => [['application/zip', [bombZip], 0]],
    'conflict-chunks': () => [[`multipart/form-data; boundary=${BOUNDARY}`, [extra, Buffer.concat([inside, end])], 200]],
    'conflict-zip': () => [['application/zip', [conflictZip], 0]],
    'short-zip': () => [['application/zip', [shortZip], 0]],
  };
}

async function window(d: TestDaemon, viewer: LiveClient, work: (until: number) => Promise<number>): Promise<string> {
  const stats = d.daemon.pipeline!.stats;
  viewer.frames.length = 0;
  const classified = stats.classified;
  const started = performance.now();
  const { result: uploads, stallMs } = await longestStall(() => work(Date.now() + SECONDS * 1000));
  const seconds = (performance.now() - started) / 1000;
  const latencies = viewer.frames.map((f) => f.receivedAt - f.meta.capturedAt);
  return `${((stats.classified - classified) / seconds).toFixed(1)} frames/s, latency median ${percentile(latencies, 0.5)} ms p95 ${percentile(latencies, 0.95)} ms, longest stall ${Math.round(stallMs)} ms, ${uploads} uploads`;
}

async function main(): Promise<void> {
  const bodies = await hostileBodies();
  const kinds = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(bodies);
  const d = await startTestDaemon();
  const viewer = new LiveClient(d.base, { token: d.token });
  try {
    await viewer.connected();
    await sleep(2000);
    console.log(`idle: ${await window(d, viewer, async (until) => (await sleep(until - Date.now()), 0))}`);
    for (const kind of kinds) {
      const row = await window(d, viewer, async (until) => {
        let n = 0;
        while (Date.now() < until) {
          for (const [type, chunks, pauseMs] of bodies[kind]()) {
            const res = await postInChunks(d.base + '/api/model', { ...d.authHeaders, 'Content-Type': type }, chunks, pauseMs);
            if (n === 0) console.log(`  ${kind}: ${res.status} ${res.text.slice(0, 200)}`);
            n++;
          }
        }
        return n;
      });
      console.log(`${kind}: ${row}`);
    }
  } finally {
    viewer.close();
    await d.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
