import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../model/backend';
import type { Stage } from '../pipeline/stats';
import type { AgentReady, AgentRequest, WindowReport } from './agent';
import { writePaperDigitClip } from './clip';
import { prepareReference } from './reference-input';
import { loadAverage, referenceUnavailable, runReference, type ReferenceResult, type ReferenceThreads } from './reference';
import { spreadOf, type Spread } from './samples';
import { writeSeedCnnPackage } from './seed-model';
import { BenchViewer } from './viewer';

/** The rows of the like-for-like comparison (docs/benchmarks.md, "Rows"). */
export type RowId = 'default' | 'course-cnn-28' | 'seed-cnn-150' | 'teachable-mobilenet';

export interface BenchModel {
  id: RowId;
  dir: string;
  /** Also measured in the viewer, pacing and clip scenarios that the other goals judge. */
  full: boolean;
}

/** As shipped (pictures at most stream.maxFps), or stream.maxFps=0 so that every frame may be drawn and encoded. */
export type StreamMode = 'shipped' | 'every-frame';

export interface BenchClip {
  id: string;
  width: number;
  height: number;
  file: string;
}

export type Pacing = 'unthrottled' | '30fps';

/** Who watches during a window: fast viewers acknowledge at once, the slow one after a second. */
export interface ViewerPlan {
  id: '0' | '1' | '1+slow' | '10+slow';
  fast: number;
  slow: number;
}

export const VIEWER_PLANS: ViewerPlan[] = [
  { id: '0', fast: 0, slow: 0 },
  { id: '1', fast: 1, slow: 0 },
  { id: '1+slow', fast: 1, slow: 1 },
  { id: '10+slow', fast: 10, slow: 1 },
];

export interface ScenarioResult {
  model: RowId;
  clip: string;
  cores: number;
  pacing: Pacing;
  viewers: ViewerPlan['id'];
  stream: StreamMode;
  backend: string;
  /** The inference engine the model ended up on, and why (model.backend=auto chooses at load). */
  engine: string;
  /** 1-minute load average at the window's start and end. */
  load: [number, number];
  fps: number;
  captured: number;
  classified: number;
  dropped: number;
  encoded: number;
  /** Frames drawn and JPEG-encoded per second (each of them classified): the "every frame" figure. */
  encodedFps: number;
  cpuMsPerFrame: number;
  stages: Record<Stage | 'send', Spread>;
  /** Capture to arrival at the fast viewers (null without viewers). */
  latency: Spread | null;
  framesPerFastViewer: number;
  slowViewerFrames: number;
  rssPeakMB: number;
  rssSteadyMB: number;
  tensorsStart: number;
  tensorsEnd: number;
}

export interface ReferenceRun extends ReferenceResult {
  model: RowId;
  clip: string;
  cores: number;
  threads: ReferenceThreads;
  load: [number, number];
}

/** A row whose reference could not run (export, probe check or loop failed): no reference figure for it. */
export interface ReferenceFailure {
  model: RowId;
  cores: number | null;
  error: string;
}

export interface BenchOptions {
  root: string;
  /** bench/reference/loop.py */
  referenceScript: string;
  seconds: number;
  quick: boolean;
  /** Only the like-for-like comparison (both sides for every row), none of the other scenarios. */
  compareOnly: boolean;
  log: (line: string) => void;
}

/**
 * What ten viewers cost against one, in one daemon (default model, 640x480 unthrottled, on one
 * core, the clients on the other): windows alternate between one fast viewer (+ the slow one)
 * and ten (nine more resumed; paused, they are sent no frame), in the order 1,10, 10,1, 1,10,
 * ... after a discarded warm-up window, so that the machine's drift falls on both sides alike;
 * each adjacent pair gives a cost.
 */
export interface FanOutRun {
  /** Window i of each side belongs to pair i (adjacent windows). */
  oneFps: number[];
  tenFps: number[];
  /** 100 * (1 - ten / one) for each pair. */
  pairCostPercent: number[];
  /** The median pair cost (the upper middle one for an even count). */
  costPercent: number;
}

export interface BenchRun {
  scenarios: ScenarioResult[];
  references: ReferenceRun[];
  referenceFailures: ReferenceFailure[];
  referenceSkipped?: string;
  /** Empty with compareOnly. */
  firstFrameMs: number[];
  /** Absent with compareOnly. */
  fanOut?: FanOutRun;
}

/** Core counts of the comparison: taskset -c 0, then -c 0-1. */
export const COMPARE_CORES = [1, 2];
/** The reference warms up this long before its window (first calls, allocations). */
export const REFERENCE_WARMUP_SECONDS = 2;

/** The memory settings of systemd/edgesight.service (a test checks that the unit still says so). */
export const SERVICE_ENVIRONMENT = { NODE_OPTIONS: '--max-semi-space-size=2', MALLOC_ARENA_MAX: '2' };

/** The CPU sets the daemon is pinned to for "2 cores" and "1 core". */
export function cpuSet(cores: number): string {
  return cores === 1 ? '0' : `0-${cores - 1}`;
}

/**
 * Runs every scenario: for each core count, model, clip and pacing a fresh daemon process
 * pinned with taskset, measured with each viewer plan in turn; then, row by row, the
 * like-for-like comparison (edgesight as shipped and encoding every frame, and right after it
 * the reference loop on the same network, clip and cores); then start-up time of the real
 * `edgesight run`. With compareOnly, the comparison alone.
 */
export async function runBench(options: BenchOptions): Promise<BenchRun> {
  const { log } = options;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgesight-bench-'));
  try {
    log(`making inputs in ${work}`);
    const clips = makeClips(work, options.quick || options.compareOnly);
    await selectBackend('auto');
    const models = await makeModels(options.root, work);
    const scenarios: ScenarioResult[] = [];
    const plans: Array<{ cores: number; pacing: Pacing; viewers: ViewerPlan[] }> = [
      { cores: 2, pacing: 'unthrottled', viewers: VIEWER_PLANS },
      { cores: 2, pacing: '30fps', viewers: VIEWER_PLANS },
      // One core for the daemon, the viewers on the other: the throughput goal, and what viewers
      // cost the daemon itself (on two shared cores the clients' own decoding competes with it).
      { cores: 1, pacing: 'unthrottled', viewers: VIEWER_PLANS },
    ];
    if (!options.compareOnly) {
      for (const plan of plans) {
        for (const model of models.filter((m) => m.full)) {
          for (const clip of clips) {
            scenarios.push(...(await measureDaemon(options, work, model, clip, plan.cores, plan.pacing, plan.viewers, 'shipped')));
          }
        }
      }
    }
    const compared = await compareRows(options, work, models, clips[0], scenarios);
    const fanOut = options.compareOnly ? undefined : await measureFanOut(options, work, models[0], clips[0]);
    const firstFrameMs = options.compareOnly ? [] : await measureStartup(options, clips[0], work);
    return { scenarios, ...compared, firstFrameMs, fanOut };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The four rows of docs/benchmarks.md; the seed course's two CNNs are written into `work`. */
async function makeModels(root: string, work: string): Promise<BenchModel[]> {
  const seedDir = path.join(work, 'seed-cnn-150');
  const courseDir = path.join(work, 'course-cnn-28');
  await writeSeedCnnPackage(seedDir, 'seed-cnn-150');
  await writeSeedCnnPackage(courseDir, 'course-cnn-28');
  return [
    { id: 'default', dir: path.join(root, 'models', 'default'), full: true },
    { id: 'course-cnn-28', dir: courseDir, full: false },
    { id: 'seed-cnn-150', dir: seedDir, full: true },
    { id: 'teachable-mobilenet', dir: path.join(root, 'test', 'fixtures', 'teachable-machine-2019'), full: false },
  ];
}

/**
 * The like-for-like comparison (docs/benchmarks.md) on the 640x480 clip read unthrottled: for
 * each core count and row, edgesight as shipped (no viewer, one viewer; already measured for
 * the full rows unless compareOnly), encoding every frame (one viewer), and right after it the
 * reference loop, with torch's default threads and, on more than one core, one per core.
 */
async function compareRows(options: BenchOptions, work: string, models: BenchModel[], clip: BenchClip, scenarios: ScenarioResult[]): Promise<Pick<BenchRun, 'references' | 'referenceFailures' | 'referenceSkipped'>> {
  const { log } = options;
  const references: ReferenceRun[] = [];
  const referenceFailures: ReferenceFailure[] = [];
  const referenceSkipped = await referenceUnavailable(options.referenceScript);
  if (referenceSkipped) log(`reference loop skipped: ${referenceSkipped}`);
  const inputs = new Map<RowId, { exportDir: string; frameProbe: string }>();
  if (!referenceSkipped) {
    for (const model of models) {
      try {
        inputs.set(model.id, await prepareReference(model.dir, path.join(work, `reference-${model.id}`), clip.file));
      } catch (err) {
        referenceFailures.push({ model: model.id, cores: null, error: (err as Error).message });
        log(`reference for ${model.id} cannot be built: ${(err as Error).message}`);
      }
    }
  }
  const [none, one] = VIEWER_PLANS;
  for (const cores of COMPARE_CORES) {
    for (const model of models) {
      if (options.compareOnly || !model.full) scenarios.push(...(await measureDaemon(options, work, model, clip, cores, 'unthrottled', [none, one], 'shipped')));
      scenarios.push(...(await measureDaemon(options, work, model, clip, cores, 'unthrottled', [one], 'every-frame')));
      const input = inputs.get(model.id);
      if (!input) continue;
      for (const threads of cores > 1 ? (['default', 'cores'] as const) : (['default'] as const)) {
        const load: [number, number] = [loadAverage(), 0];
        try {
          const result = await runReference({ script: options.referenceScript, ...input, clip: clip.file, cpus: cpuSet(cores), seconds: options.seconds, warmupSeconds: REFERENCE_WARMUP_SECONDS, threads });
          load[1] = loadAverage();
          references.push({ ...result, model: model.id, clip: clip.id, cores, threads, load });
          log(`reference ${model.id} ${cores} core(s), torch threads ${result.torchThreads} (${threads}): ${result.fps.toFixed(1)} fps, infer ${result.stagesMs.infer.toFixed(2)} ms, outputs within ${result.maxDifference.toExponential(1)} of TF.js, load ${load.map((l) => l.toFixed(1)).join(' -> ')}`);
        } catch (err) {
          referenceFailures.push({ model: model.id, cores, error: (err as Error).message });
          log(`reference ${model.id} ${cores} core(s) failed: ${(err as Error).message}`);
        }
      }
    }
  }
  return { references, referenceFailures, referenceSkipped };
}

function makeClips(work: string, quick: boolean): BenchClip[] {
  const sizes = quick ? [[640, 480]] : [[640, 480], [1280, 720]];
  return sizes.map(([width, height]) => {
    const file = path.join(work, `digits-${width}x${height}.avi`);
    // 20 s of 640x480 (10 s at 720p) at 30 fps: unthrottled runs loop it; medians settle well within.
    const digits = width > 640 ? 30 : 60;
    writePaperDigitClip(file, { digits, framesPerDigit: 10, fps: 30, width, height, seed: 11 });
    return { id: `${width}x${height}`, width, height, file };
  });
}

/** Starts the daemon under test on `clip` and `model`, pinned to `cores`; the viewers (this process) get the other core when it has one. */
function startAgent(work: string, model: BenchModel, clip: BenchClip, cores: number, pacing: Pacing, stream: StreamMode = 'shipped'): AgentProcess {
  // The viewers stand for phones elsewhere: with one core for the daemon they get the other.
  pinSelf(cores === 1 ? '1' : `0-${os.cpus().length - 1}`);
  const flags = {
    source: clip.file,
    'model.path': model.dir,
    'file.realtime': pacing === '30fps',
    'server.host': '127.0.0.1',
    'server.port': 0,
    'state.dir': fs.mkdtempSync(path.join(work, 'state-')),
    'log.level': 'silent',
    'pipeline.reportEverySeconds': 0,
    // Every frame may be drawn and encoded: no limit on the stream's pictures per second.
    ...(stream === 'every-frame' ? { 'stream.maxFps': 0 } : {}),
  };
  return new AgentProcess(path.join(__dirname, 'agent.js'), flags, cpuSet(cores));
}

async function measureDaemon(options: BenchOptions, work: string, model: BenchModel, clip: BenchClip, cores: number, pacing: Pacing, plans: ViewerPlan[], stream: StreamMode): Promise<ScenarioResult[]> {
  const { log } = options;
  const agent = startAgent(work, model, clip, cores, pacing, stream);
  const results: ScenarioResult[] = [];
  try {
    const ready = await agent.ready;
    const base = `http://127.0.0.1:${ready.port}`;
    await sleep(1500);
    for (const plan of plans) {
      const fast = Array.from({ length: plan.fast }, () => new BenchViewer(base, ready.token));
      const slow = Array.from({ length: plan.slow }, () => new BenchViewer(base, ready.token, 1000));
      const viewers = [...fast, ...slow];
      try {
        await Promise.all(viewers.map((v) => v.connected()));
        await sleep(1000);
        viewers.forEach((v) => v.reset());
        const load: [number, number] = [loadAverage(), 0];
        await agent.request({ type: 'begin' });
        await sleep(options.seconds * 1000);
        const window = (await agent.request({ type: 'end' })) as WindowReport;
        load[1] = loadAverage();
        const result = toScenario(model, clip, cores, pacing, plan, stream, ready, load, window, fast, slow);
        results.push(result);
        log(describe(result));
      } finally {
        viewers.forEach((v) => v.close());
      }
      await sleep(300);
    }
  } finally {
    await agent.stop();
    pinSelf(`0-${os.cpus().length - 1}`);
  }
  return results;
}

/** See FanOutRun. Nine more fast viewers stay connected, paused but for the ten-viewer windows. */
async function measureFanOut(options: BenchOptions, work: string, model: BenchModel, clip: BenchClip): Promise<FanOutRun> {
  // Many short pairs: this machine's speed drifts by 10-30% within seconds, so each pair's cost
  // scatters by about +-13%. Pausing and resuming nine connected viewers switches between the
  // sides at once (connecting nine took a second of settling per window), which makes 40 pairs
  // of 1 s windows fit where 10 pairs of 3 s did: the median of three such runs here spread over
  // 1.3 points (4.8-6.1%), against 6.3 points (3.1-9.4%) for 16 pairs of reconnecting viewers.
  const rounds = options.quick ? 4 : 40;
  const windowMs = 1000;
  const settleMs = 200;
  const agent = startAgent(work, model, clip, 1, 'unthrottled');
  const run: FanOutRun = { oneFps: [], tenFps: [], pairCostPercent: [], costPercent: 0 };
  const viewers: BenchViewer[] = [];
  try {
    const ready = await agent.ready;
    const base = `http://127.0.0.1:${ready.port}`;
    const nine = Array.from({ length: 9 }, () => new BenchViewer(base, ready.token));
    viewers.push(new BenchViewer(base, ready.token), new BenchViewer(base, ready.token, 1000), ...nine);
    await Promise.all(viewers.map((v) => v.connected()));
    nine.forEach((v) => v.setPaused(true));
    // The first seconds of a daemon run slower (JIT, caches); measuring them would favour whichever side came later.
    await sleep(1500 + windowMs);
    for (let round = 0; round < rounds; round++) {
      for (const ten of round % 2 === 0 ? [false, true] : [true, false]) {
        nine.forEach((v) => v.setPaused(!ten));
        await sleep(settleMs);
        nine.forEach((v) => v.reset());
        await agent.request({ type: 'begin' });
        await sleep(windowMs);
        const window = (await agent.request({ type: 'end' })) as WindowReport;
        (ten ? run.tenFps : run.oneFps).push(window.fps);
        // Nine idle sockets would prove nothing: each must have been sent frames, and none while paused.
        if (ten && nine.some((v) => v.frames === 0)) throw new Error('a viewer of the ten got no frame');
        if (!ten && nine.some((v) => v.frames > 1)) throw new Error('a paused viewer was sent frames');
      }
    }
  } finally {
    viewers.forEach((v) => v.close());
    await agent.stop();
    pinSelf(`0-${os.cpus().length - 1}`);
  }
  run.pairCostPercent = run.oneFps.map((one, i) => (1 - run.tenFps[i] / one) * 100);
  run.costPercent = spreadOf(run.pairCostPercent).median;
  options.log(`fan-out, default model on 1 core: 1 viewer ${run.oneFps.map((f) => f.toFixed(0)).join(', ')} fps; 10 viewers ${run.tenFps.map((f) => f.toFixed(0)).join(', ')} fps; cost ${run.costPercent.toFixed(1)}%`);
  return run;
}

function toScenario(model: BenchModel, clip: BenchClip, cores: number, pacing: Pacing, plan: ViewerPlan, stream: StreamMode, ready: AgentReady, load: [number, number], w: WindowReport, fast: BenchViewer[], slow: BenchViewer[]): ScenarioResult {
  const latencies = fast.flatMap((v) => v.latency.values());
  const sends = fast.flatMap((v) => v.send.values());
  return {
    model: model.id,
    clip: clip.id,
    cores,
    pacing,
    viewers: plan.id,
    stream,
    backend: ready.backend,
    engine: ready.engine,
    load,
    fps: w.fps,
    captured: w.captured,
    classified: w.classified,
    dropped: w.dropped,
    encoded: w.encoded,
    encodedFps: w.encoded / w.seconds,
    cpuMsPerFrame: w.cpuMsPerFrame,
    stages: { ...w.stages, send: spreadOf(sends) },
    latency: latencies.length ? spreadOf(latencies) : null,
    framesPerFastViewer: fast.length ? fast.reduce((s, v) => s + v.frames, 0) / fast.length : 0,
    slowViewerFrames: slow.reduce((s, v) => s + v.frames, 0),
    rssPeakMB: w.rssPeakMB,
    rssSteadyMB: w.rssSteadyMB,
    tensorsStart: w.tensorsStart,
    tensorsEnd: w.tensorsEnd,
  };
}

function describe(r: ScenarioResult): string {
  const latency = r.latency ? `, latency p95 ${r.latency.p95.toFixed(0)} ms` : '';
  const stream = r.stream === 'every-frame' ? ` (every frame: ${r.encoded} encoded)` : '';
  return `${r.model} ${r.clip} ${r.cores} core(s) ${r.pacing}, viewers ${r.viewers}${stream}: ${r.fps.toFixed(1)} fps, ${r.cpuMsPerFrame.toFixed(2)} CPU ms/frame, infer ${r.stages.infer.median.toFixed(2)} ms${latency}, RSS ${r.rssSteadyMB.toFixed(0)} MB`;
}

/**
 * Time from `edgesight run` (the real command, as a user types it) to the first classified
 * frame, seen as /healthz turning 200, which it does only once a frame has been classified.
 */
async function measureStartup(options: BenchOptions, clip: BenchClip, work: string): Promise<number[]> {
  const times: number[] = [];
  const port = 18_000 + Math.floor(Math.random() * 2000);
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const child = spawn(path.join(options.root, 'bin', 'edgesight'), ['run', '--source', clip.file, '--host', '127.0.0.1', '--port', String(port), '--set', `state.dir=${fs.mkdtempSync(path.join(work, 'start-'))}`, '--log-level', 'warn'], {
      stdio: 'ignore',
      // The shipped defaults, not a configuration file this machine may have in /etc/edgesight.
      env: { ...process.env, EDGESIGHT_CONFIG_SEARCH: '' },
    });
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`edgesight run exited with ${child.exitCode} before its first frame`);
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
        if (ok) break;
        if (performance.now() - started > 30_000) throw new Error('no classified frame within 30 s of edgesight run');
        await sleep(10);
      }
      times.push(performance.now() - started);
    } finally {
      await stopChild(child);
    }
  }
  options.log(`edgesight run to first classified frame: ${times.map((t) => (t / 1000).toFixed(2)).join(', ')} s`);
  return times;
}

/** The agent process and its IPC channel, one request at a time. */
export class AgentProcess {
  readonly ready: Promise<AgentReady>;
  private readonly child: ChildProcess;
  private pending: ((message: unknown) => void) | undefined;

  constructor(script: string, flags: Record<string, unknown>, cpus: string) {
    // The environment systemd/edgesight.service gives the daemon, so memory is measured as installed.
    const env = { ...process.env, ...SERVICE_ENVIRONMENT };
    this.child = spawn('taskset', ['-c', cpus, process.execPath, script, JSON.stringify(flags)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code) => reject(new Error(`benchmark daemon exited with ${code}`)));
      this.child.on('message', (message: { type: string }) => {
        if (message.type === 'ready') resolve(message as AgentReady);
        else this.pending?.(message);
      });
    });
    this.ready.catch(() => undefined);
  }

  request(request: AgentRequest): Promise<unknown> {
    return new Promise((resolve) => {
      this.pending = resolve;
      this.child.send(request);
    });
  }

  stop(): Promise<void> {
    return stopChild(this.child, () => this.child.connected && this.child.send({ type: 'stop' } satisfies AgentRequest));
  }
}

/** Asks a child to stop (SIGTERM unless `ask` is given), kills it after 10 s, and waits for its exit. */
async function stopChild(child: ChildProcess, ask: () => void = () => child.kill('SIGTERM')): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  ask();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Pins this process (all its threads) to `cpus`, where taskset exists. */
function pinSelf(cpus: string): void {
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
