/**
 * What a model costs in memory, measured on the real daemon (`edgesight run` as its own process,
 * with the unit's NODE_OPTIONS and MALLOC_ARENA_MAX, on a 30 fps 640x480 clip) inside a cgroup v1
 * memory cgroup of its own (no limit), for each of: the Teachable Machine 2019 export (2 MB of
 * weights), the seed CNN at 100x100 (66 MB) and at 150x150 (162 MB, the course's cats/dogs net).
 *
 *   swap:  started with the default model, settled; then the package is uploaded (POST /api/model);
 *          the peak of daemon RSS + its children's RSS (the candidate check) sampled every 25 ms,
 *          the cgroup's memory.max_usage_in_bytes and the peak of its memory.stat rss (anonymous
 *          memory, what the kernel cannot reclaim), and RSS settled 8 s after the swap.
 *   start: started with the package as model.path: the same peaks during start-up, and settled.
 *
 * `npm run measure:swap-memory` (root, cgroup v1 memory controller at /sys/fs/cgroup/memory).
 * Add `-- --only swap` or `-- --only start` for one scenario, `-- --repeat N` for N runs each,
 * `-- --models tm-2019,seed-cnn-150` for some packages, `-- --swaps 2` to swap to each package twice
 * in a row (the second beside the first: the WASM heap the first grew is reused), `-- --set model.backend=wasm` (repeatable)
 * for daemon settings, `-- --limit-mb N` to run the daemon under a memory limit.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { writePaperDigitClip } from '../src/bench/clip';
import { SERVICE_ENVIRONMENT } from '../src/bench/runner';
import { writeSeedCnnPackage } from '../src/bench/seed-model';
import { directorySaveHandler, METADATA_JSON } from '../src/model/package-io';
import { checkPackageShape } from '../src/model/package-layout';
import { seedCnn } from '../src/train/architectures';
import { tempDir, teachableMachineFixture } from '../test/helpers/fixtures';
import { MemoryCgroup, treeRss } from '../test/helpers/memory-cgroup';
import { formOf } from '../test/helpers/model-packages';
import { spawnDaemon, type SpawnedDaemon } from '../test/helpers/spawned-daemon';

const MB = 1048576;
const SETTLE_MS = 8000;
const SAMPLE_MS = 25;

interface Peaks {
  daemon: number;
  children: number;
  sum: number;
  cgroupAnon: number;
}

/** Samples the daemon's process tree and the cgroup's anonymous memory until stopped. */
class Sampler {
  readonly peaks: Peaks = { daemon: 0, children: 0, sum: 0, cgroupAnon: 0 };
  private readonly timer: NodeJS.Timeout;
  constructor(pid: number, group: MemoryCgroup) {
    this.timer = setInterval(() => {
      const { self, children } = treeRss(pid);
      const p = this.peaks;
      p.daemon = Math.max(p.daemon, self);
      p.children = Math.max(p.children, children);
      p.sum = Math.max(p.sum, self + children);
      p.cgroupAnon = Math.max(p.cgroupAnon, group.stat().rss);
    }, SAMPLE_MS);
  }
  stop(): Peaks {
    clearInterval(this.timer);
    return this.peaks;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mean RSS of the daemon over a second (it breathes with each scavenge). */
async function settledRss(pid: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < 10; i++) {
    total += treeRss(pid).self;
    await sleep(100);
  }
  return total / 10;
}

async function writeSeedCnn100(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const model = seedCnn({ height: 100, width: 100, channels: 3, classes: 2, seed: 100 });
  await model.save(directorySaveHandler(dir));
  model.dispose();
  const contract = { width: 100, height: 100, channels: 3, resizeMode: 'stretch', colorOrder: 'rgb', range: [0, 1], invert: false, contrast: 'none' };
  fs.writeFileSync(path.join(dir, METADATA_JSON), JSON.stringify({ name: 'seed-cnn-100-untrained', version: 'measure', labels: ['cat', 'dog'], preprocess: contract, outputActivation: 'softmax' }));
}

function teachableMachine(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const file of ['model.json', 'weights.bin', 'metadata.json']) fs.copyFileSync(path.join(teachableMachineFixture, file), path.join(dir, file));
}

/** Everything the script writes (clip, packages, state directories), removed at the end. */
let workDir = '';

/** `--limit-mb N`: the cgroup's memory.limit_in_bytes (none by default), to see what the kernel does at a limit. */
let limitBytes: number | undefined;

/** `--set key=value` pairs given to this script, passed on to every daemon. */
const daemonSettings: string[] = [];

async function startDaemon(group: MemoryCgroup, clip: string, extra: string[]): Promise<{ daemon: SpawnedDaemon; port: number; token: string; pid: number }> {
  const port = await freePort();
  // Under the work folder: the models the daemon stores there go when the script ends.
  const stateDir = fs.mkdtempSync(path.join(workDir, 'state-'));
  const daemon = spawnDaemon(['--source', clip, '--host', '127.0.0.1', '--port', String(port), '--set', `state.dir=${stateDir}`, '--set', 'server.maxUploadMB=1024', ...daemonSettings, ...extra], { env: SERVICE_ENVIRONMENT, cgroupProcs: group.procsFile });
  await daemon.waitForLine(/dashboard (access token created|at )/, 180_000);
  const token = fs.readFileSync(path.join(stateDir, 'token'), 'utf8').trim();
  return { daemon, port, token, pid: daemon.child.pid! };
}

const mb = (bytes: number) => (bytes / MB).toFixed(0);

async function measureSwap(name: string, pkg: string, weightBytes: number, clip: string, run: number, swaps: number): Promise<void> {
  const group = MemoryCgroup.create(`edgesight-measure-${process.pid}-${run}`, limitBytes);
  if ('unavailable' in group) throw new Error(group.unavailable);
  let daemon: SpawnedDaemon | undefined;
  try {
    const started = await startDaemon(group, clip, []);
    daemon = started.daemon;
    await sleep(SETTLE_MS);
    for (let swap = 1; swap <= swaps; swap++) await swapOnce(`${name}${swap > 1 ? ` #${swap}` : ''}`, pkg, weightBytes, started, group);
  } finally {
    await daemon?.stop();
    await group.remove();
  }
}

async function swapOnce(name: string, pkg: string, weightBytes: number, started: { pid: number; port: number; token: string }, group: MemoryCgroup): Promise<void> {
  {
    const before = await settledRss(started.pid);
    group.resetMaxUsage();
    const sampler = new Sampler(started.pid, group);
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${started.port}/api/model`, { method: 'POST', body: formOf(pkg), headers: { Authorization: `Bearer ${started.token}` } });
    const body = await res.text();
    const seconds = (Date.now() - t0) / 1000;
    await sleep(SETTLE_MS);
    const peaks = sampler.stop();
    const after = await settledRss(started.pid);
    const health = (await fetch(`http://127.0.0.1:${started.port}/healthz`)).status;
    if (res.status !== 200) console.log(`  upload answered ${res.status}: ${body.slice(0, 300)}`);
    console.log(
      `swap  ${name.padEnd(14)} weights ${mb(weightBytes).padStart(4)} MB: daemon ${mb(before)} MB before -> peak daemon ${mb(peaks.daemon)}, child ${mb(peaks.children)}, ` +
        `daemon+child ${mb(peaks.sum)} MB (${mb(peaks.sum - before)} over before); cgroup max_usage ${mb(group.maxUsageBytes)} MB, anon peak ${mb(peaks.cgroupAnon)} MB; ` +
        `settled after ${mb(after)} MB; ${seconds.toFixed(1)} s, HTTP ${res.status}, healthz ${health}, OOM kills ${group.oomKills}`,
    );
  }
}

async function measureStart(name: string, pkg: string, weightBytes: number, clip: string, run: number): Promise<void> {
  const group = MemoryCgroup.create(`edgesight-measure-${process.pid}-start-${run}`, limitBytes);
  if ('unavailable' in group) throw new Error(group.unavailable);
  let daemon: SpawnedDaemon | undefined;
  let sampler: Sampler | undefined;
  try {
    // The sampler follows the shell that becomes node (exec keeps the pid).
    const startedAt = Date.now();
    const pending = startDaemon(group, clip, ['--set', `model.path=${pkg}`]);
    for (let i = 0; i < 200 && !group.pids().length; i++) await sleep(5);
    const pids = group.pids();
    if (pids.length) sampler = new Sampler(pids[0], group);
    const started = await pending;
    daemon = started.daemon;
    const seconds = (Date.now() - startedAt) / 1000;
    await sleep(SETTLE_MS);
    const peaks = sampler?.stop();
    const after = await settledRss(started.pid);
    console.log(
      `start ${name.padEnd(14)} weights ${mb(weightBytes).padStart(4)} MB: peak daemon ${mb(peaks?.daemon ?? NaN)} MB (children ${mb(peaks?.children ?? NaN)}); ` +
        `cgroup max_usage ${mb(group.maxUsageBytes)} MB, anon peak ${mb(peaks?.cgroupAnon ?? NaN)} MB; settled ${mb(after)} MB; up in ${seconds.toFixed(1)} s`,
    );
  } finally {
    sampler?.stop();
    await daemon?.stop();
    await group.remove();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  const swaps = args.includes('--swaps') ? Number(args[args.indexOf('--swaps') + 1]) : 1;
  const repeat = args.includes('--repeat') ? Number(args[args.indexOf('--repeat') + 1]) : 1;
  const pick = args.includes('--models') ? args[args.indexOf('--models') + 1].split(',') : undefined;
  args.forEach((arg, i) => arg === '--set' && daemonSettings.push('--set', args[i + 1]));
  if (args.includes('--limit-mb')) limitBytes = Number(args[args.indexOf('--limit-mb') + 1]) * MB;
  const work = tempDir('edgesight-measure-swap-');
  workDir = work;
  const clip = path.join(work, 'digits-30fps.avi');
  writePaperDigitClip(clip, { digits: 8, framesPerDigit: 15, fps: 30 });
  const packages: Array<{ name: string; dir: string }> = [
    { name: 'tm-2019', dir: path.join(work, 'tm-2019') },
    { name: 'seed-cnn-100', dir: path.join(work, 'seed-cnn-100') },
    { name: 'seed-cnn-150', dir: path.join(work, 'seed-cnn-150') },
  ].filter((p) => !pick || pick.includes(p.name));
  for (const p of packages) {
    if (p.name === 'tm-2019') teachableMachine(p.dir);
    else if (p.name === 'seed-cnn-100') await writeSeedCnn100(p.dir);
    else await writeSeedCnnPackage(p.dir);
  }
  console.log(`daemon: edgesight run ${daemonSettings.join(' ')} on a 640x480 30 fps clip, NODE_OPTIONS=${SERVICE_ENVIRONMENT.NODE_OPTIONS} MALLOC_ARENA_MAX=${SERVICE_ENVIRONMENT.MALLOC_ARENA_MAX}, in a cgroup v1 memory cgroup ${limitBytes ? `limited to ${mb(limitBytes)} MB` : 'without a limit'}`);
  for (let run = 0; run < repeat; run++) {
    for (const p of packages) {
      const { weightBytes } = checkPackageShape(p.dir);
      if (only !== 'start') await measureSwap(p.name, p.dir, weightBytes, clip, run, swaps);
      if (only !== 'swap') await measureStart(p.name, p.dir, weightBytes, clip, run);
    }
  }
  fs.rmSync(work, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
