/**
 * What events and their sinks cost the stream: the real daemon on the 30 fps 640x480 MJPEG
 * clip with the default model, with everything off, then with events (snapshots), MQTT (a
 * mosquitto of its own on loopback) and two webhooks (loopback HTTP servers) on, then with
 * the sinks failing (broker absent, one webhook hanging, one answering 500). Prints frames/s
 * and the capture-to-decision latency (median, p95) per row, and what the queues hold.
 * Then the same unthrottled (file.realtime=false) with an event on every digit, as a stress,
 * and the clip ring's memory at 640x480 and 1280x720.
 * `npm run measure:events`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { writePaperDigitClip } from '../src/bench/clip';
import { sleep } from '../test/helpers/daemon';
import { tempDir } from '../test/helpers/fixtures';
import { Broker, freePort, startEventsDaemon } from '../test/helpers/mosquitto';
import { spreadOf } from '../src/bench/samples';

const WARMUP_S = 2;
const SECONDS = Number(process.env.MEASURE_SECONDS ?? 10);


async function server(answer: (res: http.ServerResponse) => void): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const s = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      answer(res);
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`,
    hits: () => hits,
    close: () => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(() => resolve()));
    },
  };
}

async function measure(name: string, flags: Record<string, unknown>): Promise<{ fps: number; p95: number }> {
  const d = await startEventsDaemon({ 'log.level': 'silent', 'events.maxStorageMB': 50, ...flags });
  const pipeline = d.daemon.pipeline!;
  const latencies: number[] = [];
  let counting = false;
  const off = pipeline.events.on('result', (r) => counting && latencies.push(r.decidedAt - r.capturedAt));
  await sleep(WARMUP_S * 1000);
  counting = true;
  const before = pipeline.stats.classified;
  const started = performance.now();
  await sleep(SECONDS * 1000);
  const fps = ((pipeline.stats.classified - before) * 1000) / (performance.now() - started);
  counting = false;
  off();
  const s = d.daemon.integrations!.status();
  await d.stop();
  const p50 = spreadOf(latencies).median;
  const p95 = spreadOf(latencies).p95;
  const events = Object.values(s.events.byLabel).reduce((a, b) => a + b, 0);
  const hooks = s.webhooks.map((w) => `${w.delivered} ok/${w.failed} failed/${w.dropped} dropped/${w.queued} queued`).join('; ');
  console.log(
    `${name.padEnd(34)} ${fps.toFixed(1).padStart(6)} frames/s  latency median ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms  ` +
      `| events ${events}, stored ${s.events.stored} (${(s.events.bytes / 1048576).toFixed(1)} MB), save jobs dropped ${s.events.droppedJobs}` +
      (s.mqtt.enabled ? ` | mqtt ${s.mqtt.connected ? 'connected' : 'down'}, ${s.mqtt.published} published, ${s.mqtt.dropped} dropped` : '') +
      (hooks ? ` | webhooks ${hooks}` : '') +
      ` | rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB`,
  );
  return { fps, p95 };
}

async function main(): Promise<void> {
  const broker = await new Broker().start();
  const ok1 = await server((res) => res.writeHead(204).end());
  const ok2 = await server((res) => res.writeHead(204).end());
  const hang = await server(() => undefined);
  const fail = await server((res) => res.writeHead(500).end());
  const absentBroker = `mqtt://127.0.0.1:${await freePort()}`;
  const off = { 'events.enabled': false };
  const on = { 'events.clips': true, 'mqtt.enabled': true, 'mqtt.url': broker.url, 'mqtt.deviceId': 'measure', 'webhooks.urls': `${ok1.url},${ok2.url}`, 'webhooks.snapshot': true };
  const failing = { 'events.clips': true, 'mqtt.enabled': true, 'mqtt.url': absentBroker, 'mqtt.deviceId': 'measure', 'webhooks.urls': `${hang.url},${fail.url}`, 'webhooks.timeoutSeconds': 1, 'webhooks.snapshot': true };
  console.log(`30 fps 640x480 MJPEG clip, default model, events.minSeconds 0.2; ${SECONDS} s per row after ${WARMUP_S} s warm-up`);
  const rows: Array<[string, Record<string, unknown>]> = [
    ['all off', off],
    ['events + clips + MQTT + 2 webhooks', on],
    ['events + clips + sinks failing', failing],
    ['all off (again)', off],
  ];
  const results = [];
  for (const [name, flags] of rows) results.push({ name, ...(await measure(name, flags)) });
  const base = (results[0].fps + results[3].fps) / 2;
  for (const r of results.slice(1, 3)) console.log(`  ${r.name}: frames/s ${(((r.fps - base) / base) * 100).toFixed(1)}% against all off`);

  console.log(`\nUnthrottled (file.realtime=false), events.minSeconds 0: an event on every digit (a stress, not a real scene)`);
  // stream.maxFps at its product default (30): clips keep the stream encoding at that rate.
  const fast = { 'file.realtime': false, 'events.minSeconds': 0, 'stream.maxFps': 30 };
  const unthrottled = [];
  for (const [name, flags] of [
    ['all off', { ...fast, ...off }],
    ['events + MQTT + 2 webhooks', { ...fast, ...on, 'events.clips': false }],
    ['events + clips + MQTT + 2 webhooks', { ...fast, ...on }],
    ['all off (again)', { ...fast, ...off }],
  ] as const)
    unthrottled.push({ name, ...(await measure(name, flags)) });
  const ubase = (unthrottled[0].fps + unthrottled[3].fps) / 2;
  for (const r of unthrottled.slice(1, 3)) console.log(`  ${r.name}: frames/s ${(((r.fps - ubase) / ubase) * 100).toFixed(1)}% against all off`);

  console.log('\nClip ring memory (events.preSeconds 3 + events.minSeconds 1 + 1 s slack, at events.clipFps 10; stream.jpegQuality 80):');
  for (const [w, h] of [[640, 480], [1280, 720]]) {
    const file = path.join(tempDir('edgesight-measure-'), `digits-${w}x${h}.avi`);
    writePaperDigitClip(file, { digits: 8, framesPerDigit: 15, fps: 30, width: w, height: h });
    const d = await startEventsDaemon({ source: file, 'events.clips': true, 'events.minSeconds': 1 });
    let most = { frames: 0, bytes: 0 };
    for (let i = 0; i < 16; i++) {
      await sleep(500);
      const r = d.daemon.integrations!.clipRing()!;
      if (r.bytes > most.bytes) most = r;
    }
    await d.stop();
    console.log(`  ${w}x${h}: ${most.frames} frames, ${(most.bytes / 1048576).toFixed(2)} MB at most (${Math.round(most.bytes / Math.max(1, most.frames) / 1024)} KB a frame)`);
  }
  await Promise.all([ok1.close(), ok2.close(), hang.close(), fail.close()]);
  await broker.stop();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
