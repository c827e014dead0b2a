/**
 * How viewers change the daemon: the real daemon on a 30 fps 640x480 MJPEG clip with the
 * default model, then 1 and 10 fast socket.io viewers on loopback, each beside one viewer that
 * acknowledges only once a second. Prints frames classified, frames per viewer and the latency
 * from capture to arrival at the client. `npm run measure:viewers`. (The full benchmark suite,
 * against the reference loop, is `npm run bench`'s job.)
 */
import { startTestDaemon, sleep } from '../test/helpers/daemon';
import { LiveClient } from '../test/helpers/live-client';
import { spreadOf } from '../src/bench/samples';

const SECONDS = 5;


async function main(): Promise<void> {
  const d = await startTestDaemon({ 'stream.maxFps': 0 });
  const stats = d.daemon.pipeline!.stats;
  console.log(`clip: 640x480 MJPEG at 30 fps, default model, backend ${d.daemon.backend?.name}; ${SECONDS} s per row`);
  const baseline = stats.classified;
  await sleep(SECONDS * 1000);
  console.log(`0 viewers: ${stats.classified - baseline} frames classified, ${stats.encoded} encoded`);
  for (const n of [1, 10]) {
    const fast = Array.from({ length: n }, () => new LiveClient(d.base, { token: d.token }));
    const slow = new LiveClient(d.base, { token: d.token }, 1000);
    await Promise.all([...fast, slow].map((c) => c.connected()));
    await sleep(1000);
    for (const c of [...fast, slow]) c.frames.length = 0;
    const before = stats.classified;
    await sleep(SECONDS * 1000);
    const classified = stats.classified - before;
    const latencies = fast.flatMap((c) => c.frames.map((f) => f.receivedAt - f.meta.capturedAt));
    const perViewer = Math.round(latencies.length / n);
    console.log(
      `${n} fast viewer(s) + 1 slow: ${classified} classified, ${perViewer} frames per fast viewer, ` +
        `capture-to-client latency median ${spreadOf(latencies).median} ms, p95 ${spreadOf(latencies).p95} ms; slow viewer got ${slow.frames.length}`,
    );
    for (const c of [...fast, slow]) c.close();
    await sleep(500);
  }
  await d.stop();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
