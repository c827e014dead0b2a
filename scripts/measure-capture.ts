/**
 * Does dataset capture disturb the stream? The real daemon on the 640x480 MJPEG test clip with
 * the default model and one fast socket.io viewer, measured without capture and then with burst
 * captures of full-resolution JPEGs running back to back (POST /api/dataset/samples, count 50),
 * once with the clip played at its own 30 fps (a camera) and once read as fast as the pipeline
 * takes frames. Prints frames classified per second, frames per second at the viewer, the
 * capture-to-viewer latency (median, p95) and samples saved per second.
 * `npm run build && node dist/scripts/measure-capture.js`.
 */
import { startTestDaemon, sleep, type TestDaemon } from '../test/helpers/daemon';
import { LiveClient } from '../test/helpers/live-client';
import { spreadOf } from '../src/bench/samples';

const SECONDS = 8;


async function measure(d: TestDaemon, viewer: LiveClient, withCapture: boolean): Promise<string> {
  const stats = d.daemon.pipeline!.stats;
  let capturing = withCapture;
  let saved = 0;
  const bursts = (async () => {
    while (capturing) {
      const res = await fetch(d.base + '/api/dataset/samples', { method: 'POST', headers: { ...d.authHeaders, 'Content-Type': 'application/json' }, body: JSON.stringify({ label: 'measure', count: 50 }) });
      const body = (await res.json()) as { samples?: unknown[]; error?: string };
      if (res.status !== 201) throw new Error(`capture answered ${res.status}: ${body.error}`);
      saved += body.samples!.length;
    }
  })();
  await sleep(1000);
  viewer.frames.length = 0;
  const classifiedBefore = stats.classified;
  const savedBefore = saved;
  const started = performance.now();
  await sleep(SECONDS * 1000);
  const seconds = (performance.now() - started) / 1000;
  const classified = stats.classified - classifiedBefore;
  const latencies = viewer.frames.map((f) => f.receivedAt - f.meta.capturedAt);
  const line =
    `${(classified / seconds).toFixed(1)} classified/s, ${(latencies.length / seconds).toFixed(1)} frames/s at the viewer, ` +
    `latency median ${spreadOf(latencies).median} ms p95 ${spreadOf(latencies).p95} ms, pipeline mean ${stats.latencyMs.toFixed(1)} ms; ` +
    `${((saved - savedBefore) / seconds).toFixed(1)} samples saved/s`;
  capturing = false;
  await bursts;
  return line;
}

async function main(): Promise<void> {
  for (const realtime of [true, false]) {
    const d = await startTestDaemon({ 'stream.maxFps': 0, 'file.realtime': realtime, 'dataset.maxMB': 4096 });
    const viewer = new LiveClient(d.base, { token: d.token });
    await viewer.connected();
    console.log(`clip 640x480 MJPEG ${realtime ? 'at its own 30 fps' : 'read as fast as classified'}, default model, backend ${d.daemon.backend?.name}, 1 viewer, ${SECONDS} s per row`);
    console.log(`  without capture: ${await measure(d, viewer, false)}`);
    console.log(`  burst capture:   ${await measure(d, viewer, true)}`);
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
