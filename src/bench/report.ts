import * as os from 'node:os';
import type { BenchRun, FanOutRun, ReferenceRun, ScenarioResult } from './runner';
import { spreadOf, type Spread } from './samples';

/** Where the Pi 4 projection's ratio comes from, printed beside it. */
export const PI4_CORE_RATIO = 8;
export const PI4_RATIO_SOURCE =
  'a Pi 4 Cortex-A72 core taken as 1/8 of one core of this machine for CNN work: the planning figure in issue 6 ' +
  '("public benchmarks put a Pi 4 core at roughly an eighth of a modern x86 core for CNN inference"), kept as the conservative bound; ' +
  'sysbench 1.0.20 single-thread (`sysbench cpu --threads=1 run`) gives 1477.83 events/s on a Pi 4 ' +
  '(leoncode.co.uk/articles/raspberry-pi-benchmarks), the integer-only ratio printed beside it';

export interface ModelComparison {
  cores: number;
  edgesightFps: number;
  /** edgesight with no viewer at all (nothing encoded), for comparison. */
  edgesightFpsNoViewers: number;
  referenceFps: number | null;
  ratio: number | null;
}

export interface Goal {
  goal: string;
  value: string;
  met: boolean;
}

export interface BenchReport {
  createdAt: string;
  machine: { cpu: string; cores: number; node: string; os: string };
  method: string;
  models: Record<string, ModelComparison[]>;
  goals: Goal[];
  startup: { firstFrameMs: number[]; medianMs: number };
  projection: { ratio: number; source: string; sysbenchRatio: number | null; lines: string[] };
  referenceSkipped?: string;
  fanOut: FanOutRun;
  scenarios: ScenarioResult[];
  references: ReferenceRun[];
}

const COMPARE_CLIP = '640x480';

function find(run: BenchRun, model: string, cores: number, pacing: string, viewers: string, clip = COMPARE_CLIP): ScenarioResult | undefined {
  return run.scenarios.find((s) => s.model === model && s.cores === cores && s.pacing === pacing && s.viewers === viewers && s.clip === clip);
}

/**
 * Turns the measurements into the comparison with the reference loop (640x480 clip,
 * unthrottled, one viewer watching, because the reference encodes every frame too), the goals
 * of issue 6 with their measured values, and the Pi 4 projection.
 */
export function buildReport(run: BenchRun, method: string, sysbenchEventsPerSecond: number | null): BenchReport {
  const models: Record<string, ModelComparison[]> = {};
  for (const model of [...new Set(run.scenarios.map((s) => s.model))]) {
    models[model] = [2, 1].flatMap((cores) => {
      const watched = find(run, model, cores, 'unthrottled', '1');
      const alone = find(run, model, cores, 'unthrottled', '0');
      if (!watched || !alone) return [];
      const ref = run.references.find((r) => r.model === model && r.cores === cores && r.clip === COMPARE_CLIP);
      return [{ cores, edgesightFps: watched.fps, edgesightFpsNoViewers: alone.fps, referenceFps: ref?.fps ?? null, ratio: ref ? watched.fps / ref.fps : null }];
    });
  }
  const goals: Goal[] = [];
  for (const [model, rows] of Object.entries(models)) {
    for (const row of rows) {
      const need = row.cores === 2 ? 2 : 1.2;
      if (row.ratio !== null) goals.push({ goal: `${model}: throughput >= ${need}x the reference on ${row.cores} core(s)`, value: `${row.ratio.toFixed(2)}x (${row.edgesightFps.toFixed(1)} vs ${row.referenceFps!.toFixed(1)} fps)`, met: row.ratio >= need });
    }
  }
  const paced = find(run, 'default', 2, '30fps', '1');
  if (paced) {
    goals.push({ goal: 'default model at 30 fps input: every frame classified', value: `${paced.classified} of ${paced.captured} captured, ${paced.dropped} dropped`, met: paced.dropped === 0 && paced.classified >= paced.captured - 1 });
    goals.push({ goal: 'default model at 30 fps: capture-to-client latency p95 < 30 ms', value: paced.latency ? `median ${paced.latency.median} ms, p95 ${paced.latency.p95} ms` : 'no frames', met: !!paced.latency && paced.latency.p95 < 30 });
  }
  // Fan-out is judged with the daemon on one core and the clients on the other, as phones would
  // be elsewhere, in alternating windows of one daemon (FanOutRun): separate scenarios minutes
  // apart differed by more than the cost itself on this shared machine.
  const { fanOut } = run;
  const shared = [find(run, 'default', 2, 'unthrottled', '1+slow'), find(run, 'default', 2, 'unthrottled', '10+slow')];
  const sharedText = shared[0] && shared[1] ? `; as separate scenarios with the clients sharing its 2 cores ${shared[0].fps.toFixed(1)} -> ${shared[1].fps.toFixed(1)} fps (${((1 - shared[1].fps / shared[0].fps) * 100).toFixed(1)}%)` : '';
  goals.push({
    goal: '10 viewers cost < 10% of throughput compared with 1 (daemon on its own core)',
    value: `${fanOut.costPercent.toFixed(1)}%, the median of ${fanOut.pairCostPercent.length} pairs of adjacent windows (the middle half of pair costs ${middleHalf(fanOut.pairCostPercent)}%; medians ${spreadOf(fanOut.oneFps).median.toFixed(1)} -> ${spreadOf(fanOut.tenFps).median.toFixed(1)} fps)${sharedText}`,
    met: fanOut.costPercent < 10,
  });
  const alone = find(run, 'default', 2, '30fps', '1');
  const withSlow = find(run, 'default', 2, '30fps', '1+slow');
  if (alone && withSlow && alone.latency && withSlow.latency) {
    const fewer = (1 - withSlow.framesPerFastViewer / alone.framesPerFastViewer) * 100;
    goals.push({
      goal: 'a slow viewer changes nothing for the others (30 fps input)',
      value: `fast viewer got ${alone.framesPerFastViewer} frames alone, ${withSlow.framesPerFastViewer} beside the slow one (which got ${withSlow.slowViewerFrames}); p95 latency ${alone.latency.p95} -> ${withSlow.latency.p95} ms`,
      met: fewer < 5 && withSlow.latency.p95 < 30,
    });
  }
  const noViewers = run.scenarios.filter((s) => s.viewers === '0');
  goals.push({ goal: 'with 0 viewers no frame is encoded', value: `${noViewers.reduce((n, s) => n + s.encoded, 0)} encoded in ${noViewers.length} scenarios`, met: noViewers.every((s) => s.encoded === 0) });
  const defaults = run.scenarios.filter((s) => s.model === 'default');
  const steady = Math.max(...defaults.map((s) => s.rssSteadyMB));
  goals.push({ goal: 'steady RSS with the default model < 250 MB', value: `${steady.toFixed(0)} MB at most (of ${defaults.length} scenarios)`, met: steady < 250 });
  const leaking = run.scenarios.filter((s) => s.tensorsEnd !== s.tensorsStart);
  goals.push({ goal: 'tensor count flat', value: leaking.length ? `${leaking.length} scenarios changed` : `unchanged in all ${run.scenarios.length} scenarios`, met: leaking.length === 0 });
  const startupMedian = spreadOf(run.firstFrameMs).median;
  goals.push({ goal: '`edgesight run` to first classified frame < 3 s', value: `${(startupMedian / 1000).toFixed(2)} s (median of ${run.firstFrameMs.length})`, met: startupMedian < 3000 });

  const sysbenchRatio = sysbenchEventsPerSecond ? sysbenchEventsPerSecond / 1477.83 : null;
  const projection = projectToPi(run, sysbenchRatio);
  return {
    createdAt: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, os: `${os.type()} ${os.release()}` },
    method,
    models,
    goals,
    startup: { firstFrameMs: run.firstFrameMs, medianMs: startupMedian },
    projection,
    referenceSkipped: run.referenceSkipped,
    fanOut: run.fanOut,
    scenarios: run.scenarios,
    references: run.references,
  };
}

/** "q1 to q3" of a few values (each pair's cost is listed in latest.md). */
function middleHalf(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return `${at(0.25).toFixed(0)} to ${at(0.75).toFixed(0)}`;
}

function projectToPi(run: BenchRun, sysbenchRatio: number | null): BenchReport['projection'] {
  const lines: string[] = [];
  for (const [model, viewers] of [['default', '0'], ['default', '1'], ['seed-cnn-150', '0']] as const) {
    const s = find(run, model, 1, 'unthrottled', viewers);
    if (!s) continue;
    const piMs = s.cpuMsPerFrame * PI4_CORE_RATIO;
    const piFps = 1000 / piMs;
    lines.push(
      `${model}, ${viewers === '0' ? 'nobody watching' : 'one viewer at 30 fps'}: ${s.cpuMsPerFrame.toFixed(2)} CPU ms/frame here x ${PI4_CORE_RATIO} = ${piMs.toFixed(1)} ms on one Pi 4 core, ` +
        `about ${piFps.toFixed(0)} frames/s: ${piFps >= 30 ? 'keeps up with a 30 fps camera' : 'does not keep up with 30 fps on one core'}`,
    );
  }
  return { ratio: PI4_CORE_RATIO, source: PI4_RATIO_SOURCE, sysbenchRatio, lines };
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const spread = (s: Spread | null, digits = 2) => (s && Number.isFinite(s.median) ? `${fmt(s.median, digits)} / ${fmt(s.p95, digits)}` : '-');

/** The report as Markdown: comparison, goals, projection, then every scenario. */
export function toMarkdown(report: BenchReport): string {
  const out: string[] = [];
  out.push(`Machine: ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}; ${report.createdAt.slice(0, 16).replace('T', ' ')} UTC.`);
  out.push(`Method: ${report.method}`);
  out.push('');
  out.push('| model | cores | edgesight fps (1 viewer) | edgesight fps (no viewer) | reference fps | ratio |');
  out.push('|---|---|---|---|---|---|');
  for (const [model, rows] of Object.entries(report.models)) {
    for (const r of rows) out.push(`| ${model} | ${r.cores} | ${fmt(r.edgesightFps)} | ${fmt(r.edgesightFpsNoViewers)} | ${r.referenceFps === null ? '-' : fmt(r.referenceFps)} | ${r.ratio === null ? '-' : fmt(r.ratio, 2) + 'x'} |`);
  }
  if (report.referenceSkipped) out.push(`\nReference not run: ${report.referenceSkipped}`);
  out.push('');
  out.push('| goal | measured | met |');
  out.push('|---|---|---|');
  for (const g of report.goals) out.push(`| ${g.goal} | ${g.value} | ${g.met ? 'yes' : '**no**'} |`);
  out.push('');
  out.push(`Pi 4 projection (${report.projection.source}${report.projection.sysbenchRatio ? `; sysbench here: ${report.projection.sysbenchRatio.toFixed(1)}x a Pi 4 core` : ''}):`);
  for (const line of report.projection.lines) out.push(`- ${line}`);
  out.push('');
  out.push(`Fan-out (default model, 640x480 unthrottled, daemon on one core, clients on the other; alternating windows): 1 fast + 1 slow viewer ${report.fanOut.oneFps.map((f) => fmt(f)).join(', ')} fps; 10 fast + 1 slow ${report.fanOut.tenFps.map((f) => fmt(f)).join(', ')} fps; pair costs ${report.fanOut.pairCostPercent.map((c) => c.toFixed(0)).join(', ')}%.`);
  out.push('');
  out.push('Per scenario (stage times median / p95 ms; latency is capture to arrival at a fast socket.io viewer on loopback):');
  out.push('');
  out.push('| model | clip | cores | input | viewers | fps | read | preprocess | infer | overlay | encode | send | latency | CPU ms/frame | RSS steady / peak MB | tensors | fast / slow viewer frames |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of report.scenarios) {
    out.push(
      `| ${s.model} | ${s.clip} | ${s.cores} | ${s.pacing} | ${s.viewers} | ${fmt(s.fps)} | ${spread(s.stages.read)} | ${spread(s.stages.preprocess)} | ${spread(s.stages.infer)} | ${spread(s.stages.overlay)} | ${spread(s.stages.encode)} | ${spread(s.stages.send, 0)} | ${spread(s.latency, 0)} | ${fmt(s.cpuMsPerFrame, 2)} | ${fmt(s.rssSteadyMB, 0)} / ${fmt(s.rssPeakMB, 0)} | ${s.tensorsStart} -> ${s.tensorsEnd} | ${fmt(s.framesPerFastViewer, 0)} / ${s.slowViewerFrames} |`,
    );
  }
  if (report.references.length) {
    out.push('');
    out.push('Reference loop (python_pipeline.py, PyTorch CPU one thread, same clips, same taskset):');
    out.push('');
    out.push('| model | clip | cores | fps | stage means ms |');
    out.push('|---|---|---|---|---|');
    for (const r of report.references) out.push(`| ${r.model} | ${r.clip} | ${r.cores} | ${fmt(r.fps)} | ${Object.entries(r.stagesMs).map(([k, v]) => `${k} ${v}`).join(', ')} |`);
  }
  return out.join('\n') + '\n';
}
