/**
 * The daemon under test, in a process of its own (so that its CPU time and memory are its
 * own): the real DaemonController, built from config as `edgesight run` builds it, plus a
 * recorder of every frame's stage times. The benchmark runner talks to it over the IPC
 * channel: `begin` opens a measurement window, `end` closes it and gets the numbers back.
 *   node dist/src/bench/agent.js '<config flags as JSON>'   (spawned by the runner, with an IPC channel)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../config/load';
import { DaemonController } from '../daemon/controller';
import type { Stage } from '../pipeline/stats';
import { silentLogger } from '../util/logger';
import { SampleSet, type Spread } from './samples';

export type AgentRequest = { type: 'begin' } | { type: 'end' } | { type: 'stop' };

export interface AgentReady {
  type: 'ready';
  port: number;
  token: string;
  backend: string;
  /** The inference engine and why (model.backend=auto chooses at load). */
  engine: string;
  /** Process start to the first classified frame. */
  firstFrameMs: number;
}

export interface WindowReport {
  type: 'window';
  seconds: number;
  captured: number;
  classified: number;
  dropped: number;
  encoded: number;
  fps: number;
  cpuMsPerFrame: number;
  stages: Record<Stage, Spread>;
  /** Capture to decision, in the daemon. */
  decideLatency: Spread;
  rssPeakMB: number;
  rssSteadyMB: number;
  tensorsStart: number;
  tensorsEnd: number;
}

const STAGES: Stage[] = ['read', 'preprocess', 'infer', 'overlay', 'encode'];

async function main(): Promise<void> {
  const flags = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
  const config = loadConfig({ flags });
  const daemon = new DaemonController(config, silentLogger());
  const samples = Object.fromEntries(STAGES.map((s) => [s, new SampleSet()])) as Record<Stage, SampleSet>;
  const decideLatency = new SampleSet();
  const pipeline = await daemon.start();
  // performance.now() counts from the start of this process.
  const firstFrameMs = await new Promise<number>((resolve) => {
    if (pipeline.stats.classified > 0) resolve(performance.now());
    else {
      const off = pipeline.events.on('result', () => {
        off();
        resolve(performance.now());
      });
    }
  });
  pipeline.events.on('result', (r) => {
    samples.read.add(r.timings.read);
    samples.preprocess.add(r.timings.preprocess);
    samples.infer.add(r.timings.infer);
    decideLatency.add(r.decidedAt - r.capturedAt);
  });
  pipeline.events.on('jpeg', ({ result }) => {
    samples.overlay.add(result.timings.overlay);
    samples.encode.add(result.timings.encode);
  });

  const rss = new SampleSet(4096);
  let window: { startedAt: number; cpu: NodeJS.CpuUsage; stats: ReturnType<typeof pipeline.stats.snapshot>; tensors: number; sampler: NodeJS.Timeout } | undefined;
  const send = (message: AgentReady | WindowReport | { type: 'begun' } | { type: 'stopped' }) => process.send!(message);

  process.on('message', (request: AgentRequest) => {
    if (request.type === 'begin') {
      for (const s of [...Object.values(samples), decideLatency, rss]) s.clear();
      const sampler = setInterval(() => rss.add(process.memoryUsage.rss() / 1048576), 100);
      window = { startedAt: performance.now(), cpu: process.cpuUsage(), stats: pipeline.stats.snapshot(), tensors: tf.memory().numTensors, sampler };
      send({ type: 'begun' });
    } else if (request.type === 'end' && window) {
      clearInterval(window.sampler);
      const seconds = (performance.now() - window.startedAt) / 1000;
      const cpu = process.cpuUsage(window.cpu);
      const now = pipeline.stats.snapshot();
      const classified = now.classified - window.stats.classified;
      send({
        type: 'window',
        seconds,
        captured: now.captured - window.stats.captured,
        classified,
        dropped: now.dropped - window.stats.dropped,
        encoded: now.encoded - window.stats.encoded,
        fps: classified / seconds,
        cpuMsPerFrame: (cpu.user + cpu.system) / 1000 / Math.max(1, classified),
        stages: Object.fromEntries(STAGES.map((s) => [s, samples[s].spread()])) as Record<Stage, Spread>,
        decideLatency: decideLatency.spread(),
        rssPeakMB: rss.max(),
        rssSteadyMB: rss.spread().median,
        tensorsStart: window.tensors,
        tensorsEnd: tf.memory().numTensors,
      });
      window = undefined;
    } else if (request.type === 'stop') {
      void daemon.stop().then(() => {
        send({ type: 'stopped' });
        process.exit(0);
      });
    }
  });
  process.on('disconnect', () => void daemon.stop().then(() => process.exit(0)));

  const tokenFile = path.join(daemon.stateDir, 'token');
  send({
    type: 'ready',
    port: daemon.serverPort!,
    token: fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : '',
    backend: daemon.backend?.name ?? 'unknown',
    engine: pipeline.classifier.engineSummary,
    firstFrameMs,
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
