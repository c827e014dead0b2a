/**
 * Soak: the real daemon at full speed (a 640x480 MJPEG clip read as fast as it classifies) with
 * viewers attached (the daemon in its own process, `edgesight run`) — 3 fast socket.io clients, 1 that acknowledges once a second, an MJPEG
 * stream and a predictions-only client — and a model hand-off every few minutes. Prints frames,
 * RSS, heap and live tensors over time, then the growth of RSS from the first sample after
 * warm-up to the mean of the last quarter, and the tensor range.
 *   npm run soak -- --minutes 30 [--sample-seconds 60] [--swap-minutes 5]
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { sleep, thirtyFpsClip } from '../test/helpers/daemon';
import { cliPath, defaultModelDir, tempDir } from '../test/helpers/fixtures';
import { LiveClient } from '../test/helpers/live-client';

interface Sample {
  minute: number;
  classified: number;
  fps: number;
  rssMB: number;
  tensors: number;
  swaps: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' }, 'sample-seconds': { type: 'string', default: '60' }, 'swap-minutes': { type: 'string', default: '5' } } });
  const minutes = Number(values.minutes);
  const sampleMs = Number(values['sample-seconds']) * 1000;
  const swapMs = Number(values['swap-minutes']) * 60_000;
  // The daemon runs as its own process (`edgesight run`), so the clients' memory is not counted as its.
  const stateDir = tempDir('edgesight-soak-state-');
  const child = spawn(process.execPath, [cliPath, 'run', '--source', thirtyFpsClip().file, '--set', 'file.realtime=false', '--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${stateDir}`, '--set', 'log.format=json', '--set', 'pipeline.reportEverySeconds=0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // The shipped defaults, not this machine's /etc/edgesight/config.json (a device may run the service).
    env: { ...process.env, EDGESIGHT_CONFIG_SEARCH: '' },
  });
  const base = await new Promise<string>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (c: Buffer) => {
      log += c.toString();
      const url = /(http:\/\/127\.0\.0\.1:\d+)\/\?token=/.exec(log);
      if (url) resolve(url[1]);
    });
    child.once('exit', (code) => reject(new Error(`edgesight run exited with ${code}:\n${log}`)));
  });
  const token = fs.readFileSync(path.join(stateDir, 'token'), 'utf8').trim();
  const headers = { Authorization: `Bearer ${token}` };
  const status = async () => (await (await fetch(`${base}/api/status`, { headers })).json()) as { frames: { classified: number }; tensors: number; backend: string; model: { version: string } };
  const rssMB = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;

  const fast = [0, 1, 2].map(() => new LiveClient(base, { token }));
  const slow = new LiveClient(base, { token }, 1000);
  const predictions = new LiveClient(base, { token, frames: false, predictions: true });
  await Promise.all([...fast, slow, predictions].map((c) => c.connected()));
  // The clients keep every frame they get unless emptied; this script only counts them.
  const drain = setInterval(() => [...fast, slow].forEach((c) => (c.frames.length = 0)), 1000);
  let mjpegBytes = 0;
  const mjpeg = http.get(`${base}/stream.mjpg`, { headers }, (res) => res.on('data', (c: Buffer) => (mjpegBytes += c.length)));
  mjpeg.on('error', () => undefined);

  // A model hand-off through the inbox every few minutes, as `scp` would deliver it.
  let swapsSent = 0;
  const swapTimer = setInterval(() => {
    const name = `digits-${++swapsSent}`;
    const staging = path.join(stateDir, `.${name}`);
    fs.cpSync(defaultModelDir, staging, { recursive: true });
    fs.renameSync(staging, path.join(stateDir, 'inbox', name));
  }, swapMs);
  let swaps = 0;
  for (const c of [fast[0]]) c.socket.on('model', () => swaps++);

  const samples: Sample[] = [];
  const started = Date.now();
  console.log(`soak: ${minutes} min at full speed, backend ${(await status()).backend}, daemon pid ${child.pid}, 3 fast + 1 slow socket.io viewers, 1 MJPEG, 1 predictions client, a model swap every ${swapMs / 60000} min`);
  console.log('minute  classified    fps   rss MB  tensors  swaps');
  let lastClassified = (await status()).frames.classified;
  let lastAt = Date.now();
  while (Date.now() - started < minutes * 60_000) {
    await sleep(sampleMs);
    const now = Date.now();
    const s = await status();
    const sample: Sample = {
      minute: (now - started) / 60_000,
      classified: s.frames.classified,
      fps: ((s.frames.classified - lastClassified) * 1000) / (now - lastAt),
      rssMB: rssMB(),
      tensors: s.tensors,
      swaps,
    };
    lastClassified = s.frames.classified;
    lastAt = now;
    samples.push(sample);
    console.log(
      `${sample.minute.toFixed(1).padStart(6)}  ${String(sample.classified).padStart(10)}  ${sample.fps.toFixed(0).padStart(5)}  ${sample.rssMB.toFixed(0).padStart(7)}  ${String(sample.tensors).padStart(7)}  ${String(sample.swaps).padStart(5)}`,
    );
  }
  clearInterval(swapTimer);
  clearInterval(drain);
  mjpeg.destroy();
  for (const c of [...fast, slow, predictions]) c.close();

  // Warm-up: allocators and JIT settle in the first minutes; growth is measured after them.
  const baseline = samples[Math.min(samples.length - 1, Math.max(1, Math.floor(samples.length / 10)))];
  const lastQuarter = samples.slice(Math.floor((samples.length * 3) / 4));
  const endRss = lastQuarter.reduce((s, x) => s + x.rssMB, 0) / lastQuarter.length;
  const growth = ((endRss - baseline.rssMB) / baseline.rssMB) * 100;
  const tensors = samples.map((s) => s.tensors);
  const classified = samples[samples.length - 1].classified;
  console.log(
    `\nframes classified: ${classified} (${((classified * 1000) / (Date.now() - started)).toFixed(0)} fps average), MJPEG received ${(mjpegBytes / 1048576).toFixed(0)} MB, model swaps: ${swaps}`,
  );
  console.log(`RSS: ${baseline.rssMB.toFixed(0)} MB at minute ${baseline.minute.toFixed(1)} -> ${endRss.toFixed(0)} MB (mean of the last quarter): ${growth >= 0 ? '+' : ''}${growth.toFixed(1)}% (goal: under 5%)`);
  console.log(`tensors: min ${Math.min(...tensors)}, max ${Math.max(...tensors)} (goal: flat)`);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
