import * as os from 'node:os';
import type { BenchRun, FanOutRun, ReferenceFailure, ReferenceRun, RowId, ScenarioResult } from './runner';
import { spreadOf, type Spread } from './samples';

/** Where the Pi 4 projection's ratio comes from, printed beside it. */
export const PI4_CORE_RATIO = 8;
export const PI4_RATIO_SOURCE =
  'a Pi 4 Cortex-A72 core taken as 1/8 of one core of this machine for CNN work: the planning figure in issue 6 ' +
  '("public benchmarks put a Pi 4 core at roughly an eighth of a modern x86 core for CNN inference"), kept as the conservative bound; ' +
  'sysbench 1.0.20 single-thread (`sysbench cpu --threads=1 run`) gives 1477.83 events/s on a Pi 4 ' +
  '(leoncode.co.uk/articles/raspberry-pi-benchmarks), the integer-only ratio printed beside it';

/** Goals of issue 14 against the like-for-like reference (docs/benchmarks.md, "Goals"). */
export const SHIPPED_GOAL = 2;
export const EVERY_FRAME_GOAL = 1.2;

/** One row of the comparison on one core count (docs/benchmarks.md, "What is timed"). */
export interface RowComparison {
  model: RowId;
  cores: number;
  /** The engine edgesight ran the model on. */
  engine: string;
  /** Classified frames/s, one viewer, stream.maxFps as shipped. */
  shippedFps: number | null;
  /** Classified frames/s with nobody watching (context only). */
  noViewerFps: number | null;
  /** Frames/s classified and drawn and encoded, stream.maxFps=0, one viewer. */
  everyFrameFps: number | null;
  /** Classified frames/s in that same window. */
  everyFrameClassifiedFps: number | null;
  /** The reference's figure: the faster of its thread settings. */
  referenceFps: number | null;
  /** Every reference run of the row: threads asked, torch threads used, frames/s. */
  referenceRuns: Array<{ threads: string; torchThreads: number; fps: number }>;
  /** Torch's outputs against TF.js's on the probes (largest absolute difference). */
  referenceMaxDifference: number | null;
  /** The reference's input values against edgesight's on the clip's first frame. */
  preprocessDifference: number | null;
  /** Why there is no reference figure, when there is none. */
  referenceMissing?: string;
  shippedRatio: number | null;
  everyFrameRatio: number | null;
}

export interface Goal {
  goal: string;
  value: string;
  met: boolean;
}

export interface Projection {
  model: RowId;
  figure: 'edgesight as shipped' | 'edgesight every frame' | 'reference';
  /** Frames/s here on 1 and 2 cores. */
  fps1: number;
  fps2: number;
  /** Amdahl's parallel fraction from the 1 -> 2 core speed-up, and the 4-core speed-up it gives. */
  parallel: number;
  speedup4: number;
  pi4OneCoreFps: number;
  pi4FourCoreFps: number;
}

export interface BenchReport {
  createdAt: string;
  machine: { cpu: string; cores: number; node: string; os: string };
  method: string;
  comparisons: RowComparison[];
  goals: Goal[];
  startup: { firstFrameMs: number[]; medianMs: number } | null;
  projection: { ratio: number; source: string; sysbenchRatio: number | null; rows: Projection[] };
  referenceSkipped?: string;
  referenceFailures: ReferenceFailure[];
  fanOut?: FanOutRun;
  scenarios: ScenarioResult[];
  references: ReferenceRun[];
}

const COMPARE_CLIP = '640x480';

function find(run: BenchRun, model: string, cores: number, pacing: string, viewers: string, stream = 'shipped', clip = COMPARE_CLIP): ScenarioResult | undefined {
  return run.scenarios.find((s) => s.model === model && s.cores === cores && s.pacing === pacing && s.viewers === viewers && s.stream === stream && s.clip === clip);
}

/** Each row of the like-for-like comparison, on each core count measured. */
export function compareRows(run: BenchRun): RowComparison[] {
  const rows: RowComparison[] = [];
  const models = [...new Set(run.scenarios.filter((s) => s.stream === 'every-frame').map((s) => s.model))];
  for (const model of models) {
    for (const cores of [...new Set(run.scenarios.filter((s) => s.model === model && s.stream === 'every-frame').map((s) => s.cores))].sort()) {
      const shipped = find(run, model, cores, 'unthrottled', '1');
      const alone = find(run, model, cores, 'unthrottled', '0');
      const every = find(run, model, cores, 'unthrottled', '1', 'every-frame');
      const refs = run.references.filter((r) => r.model === model && r.cores === cores && r.clip === COMPARE_CLIP);
      const best = refs.reduce<ReferenceRun | undefined>((b, r) => (!b || r.fps > b.fps ? r : b), undefined);
      const failure = run.referenceFailures.find((f) => f.model === model && (f.cores === cores || f.cores === null));
      const referenceFps = best?.fps ?? null;
      const shippedFps = shipped?.fps ?? null;
      const everyFrameFps = every?.encodedFps ?? null;
      rows.push({
        model,
        cores,
        engine: (shipped ?? every)?.engine ?? 'unknown',
        shippedFps,
        noViewerFps: alone?.fps ?? null,
        everyFrameFps,
        everyFrameClassifiedFps: every?.fps ?? null,
        referenceFps,
        referenceRuns: refs.map((r) => ({ threads: r.threads, torchThreads: r.torchThreads, fps: r.fps })),
        referenceMaxDifference: refs.length ? Math.max(...refs.map((r) => r.maxDifference)) : null,
        preprocessDifference: refs.find((r) => r.preprocessDifference !== null)?.preprocessDifference ?? null,
        referenceMissing: best ? undefined : (failure?.error ?? run.referenceSkipped ?? 'not run'),
        shippedRatio: referenceFps && shippedFps !== null ? shippedFps / referenceFps : null,
        everyFrameRatio: referenceFps && everyFrameFps !== null ? everyFrameFps / referenceFps : null,
      });
    }
  }
  return rows;
}

/**
 * Turns the measurements into the like-for-like comparison, the goals with their measured
 * values (those of issue 14 against the reference, and the earlier ones of issue 6 where their
 * scenarios ran), and the Pi 4 projection.
 */
export function buildReport(run: BenchRun, method: string, sysbenchEventsPerSecond: number | null): BenchReport {
  const comparisons = compareRows(run);
  const goals: Goal[] = [];
  for (const row of comparisons) {
    // Without the reference at all (no torch here) nothing can be judged; a row whose reference failed is a miss to look at.
    if (run.referenceSkipped) continue;
    const where = `${row.model}, ${row.cores} core${row.cores > 1 ? 's' : ''}`;
    const judge = (name: string, need: number, fps: number | null, ratio: number | null) =>
      goals.push({
        goal: `${where}: ${name} >= ${need}x the reference`,
        value: ratio === null ? `no figure (${row.referenceMissing ?? 'edgesight not measured'})` : `${ratio.toFixed(2)}x (${fps!.toFixed(1)} vs ${row.referenceFps!.toFixed(1)} fps)`,
        met: ratio !== null && ratio >= need,
      });
    judge('as shipped', SHIPPED_GOAL, row.shippedFps, row.shippedRatio);
    judge('encoding every frame', EVERY_FRAME_GOAL, row.everyFrameFps, row.everyFrameRatio);
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
  if (fanOut) {
    const shared = [find(run, 'default', 2, 'unthrottled', '1+slow'), find(run, 'default', 2, 'unthrottled', '10+slow')];
    const sharedText = shared[0] && shared[1] ? `; as separate scenarios with the clients sharing its 2 cores ${shared[0].fps.toFixed(1)} -> ${shared[1].fps.toFixed(1)} fps (${((1 - shared[1].fps / shared[0].fps) * 100).toFixed(1)}%)` : '';
    goals.push({
      goal: '10 viewers cost < 10% of throughput compared with 1 (daemon on its own core)',
      value: `${fanOut.costPercent.toFixed(1)}%, the median of ${fanOut.pairCostPercent.length} pairs of adjacent windows (the middle half of pair costs ${middleHalf(fanOut.pairCostPercent)}%; medians ${spreadOf(fanOut.oneFps).median.toFixed(1)} -> ${spreadOf(fanOut.tenFps).median.toFixed(1)} fps)${sharedText}`,
      met: fanOut.costPercent < 10,
    });
  }
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
  if (noViewers.length) goals.push({ goal: 'with 0 viewers no frame is encoded', value: `${noViewers.reduce((n, s) => n + s.encoded, 0)} encoded in ${noViewers.length} scenarios`, met: noViewers.every((s) => s.encoded === 0) });
  const defaults = run.scenarios.filter((s) => s.model === 'default');
  if (defaults.length) {
    const steady = Math.max(...defaults.map((s) => s.rssSteadyMB));
    goals.push({ goal: 'steady RSS with the default model < 250 MB', value: `${steady.toFixed(0)} MB at most (of ${defaults.length} scenarios)`, met: steady < 250 });
  }
  const leaking = run.scenarios.filter((s) => s.tensorsEnd !== s.tensorsStart);
  goals.push({ goal: 'tensor count flat', value: leaking.length ? `${leaking.length} scenarios changed` : `unchanged in all ${run.scenarios.length} scenarios`, met: leaking.length === 0 });
  let startup: BenchReport['startup'] = null;
  if (run.firstFrameMs.length) {
    startup = { firstFrameMs: run.firstFrameMs, medianMs: spreadOf(run.firstFrameMs).median };
    goals.push({ goal: '`edgesight run` to first classified frame < 3 s', value: `${(startup.medianMs / 1000).toFixed(2)} s (median of ${run.firstFrameMs.length})`, met: startup.medianMs < 3000 });
  }

  const sysbenchRatio = sysbenchEventsPerSecond ? sysbenchEventsPerSecond / 1477.83 : null;
  return {
    createdAt: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, os: `${os.type()} ${os.release()}` },
    method,
    comparisons,
    goals,
    startup,
    projection: { ratio: PI4_CORE_RATIO, source: PI4_RATIO_SOURCE, sysbenchRatio, rows: projectToPi(comparisons) },
    referenceSkipped: run.referenceSkipped,
    referenceFailures: run.referenceFailures,
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

/**
 * docs/benchmarks.md, "Pi 4 projection": one Pi 4 core does 1/PI4_CORE_RATIO of this machine's
 * one-core frames/s; four cores scale by Amdahl's law with the parallel fraction the measured
 * 1 -> 2 core speed-up implies.
 */
export function projectFigure(fps1: number, fps2: number): Pick<Projection, 'parallel' | 'speedup4' | 'pi4OneCoreFps' | 'pi4FourCoreFps'> {
  const s2 = fps2 / fps1;
  const parallel = Math.min(1, Math.max(0, 2 * (1 - 1 / s2)));
  const speedup4 = 1 / (1 - parallel + parallel / 4);
  const pi4OneCoreFps = fps1 / PI4_CORE_RATIO;
  return { parallel, speedup4, pi4OneCoreFps, pi4FourCoreFps: pi4OneCoreFps * speedup4 };
}

function projectToPi(comparisons: RowComparison[]): Projection[] {
  const out: Projection[] = [];
  for (const model of [...new Set(comparisons.map((c) => c.model))]) {
    const one = comparisons.find((c) => c.model === model && c.cores === 1);
    const two = comparisons.find((c) => c.model === model && c.cores === 2);
    if (!one || !two) continue;
    const figures = [
      ['edgesight as shipped', one.shippedFps, two.shippedFps],
      ['edgesight every frame', one.everyFrameFps, two.everyFrameFps],
      ['reference', one.referenceFps, two.referenceFps],
    ] as const;
    for (const [figure, fps1, fps2] of figures) {
      if (fps1 === null || fps2 === null || !(fps1 > 0)) continue;
      out.push({ model, figure, fps1, fps2, ...projectFigure(fps1, fps2) });
    }
  }
  return out;
}

const fmt = (x: number | null | undefined, digits = 1) => (x !== null && x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : '-');
const spread = (s: Spread | null, digits = 2) => (s && Number.isFinite(s.median) ? `${fmt(s.median, digits)} / ${fmt(s.p95, digits)}` : '-');
const ratio = (r: number | null) => (r === null ? '-' : `${r.toFixed(2)}x`);
const exp = (x: number | null) => (x === null ? '-' : x.toExponential(1));

/** The report as Markdown: comparison, goals, projection, then every scenario and reference run. */
export function toMarkdown(report: BenchReport): string {
  const out: string[] = [];
  out.push(`Machine: ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}; ${report.createdAt.slice(0, 16).replace('T', ' ')} UTC.`);
  out.push(`Method: ${report.method}`);
  out.push('');
  out.push('| row | cores | edgesight engine | edgesight as shipped fps | edgesight every frame fps (classified) | reference fps (torch threads: fps) | as shipped / reference | every frame / reference | torch vs TF.js outputs | input values vs edgesight |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of report.comparisons) {
    const refs = r.referenceRuns.map((x) => `${x.torchThreads}: ${fmt(x.fps)}`).join(', ');
    const reference = r.referenceFps === null ? `- (${r.referenceMissing})` : `**${fmt(r.referenceFps)}** (${refs})`;
    out.push(`| ${r.model} | ${r.cores} | ${shortEngine(r.engine)} | ${fmt(r.shippedFps)} | ${fmt(r.everyFrameFps)} (${fmt(r.everyFrameClassifiedFps)}) | ${reference} | ${ratio(r.shippedRatio)} | ${ratio(r.everyFrameRatio)} | ${exp(r.referenceMaxDifference)} | ${exp(r.preprocessDifference)} |`);
  }
  if (report.referenceSkipped) out.push(`\nReference not run: ${report.referenceSkipped}`);
  out.push('');
  out.push('| goal | measured | met |');
  out.push('|---|---|---|');
  for (const g of report.goals) out.push(`| ${g.goal} | ${g.value} | ${g.met ? 'yes' : '**no**'} |`);
  if (report.projection.rows.length) {
    out.push('');
    out.push(`Pi 4 projection, four cores (docs/benchmarks.md: one-core frames/s here / ${report.projection.ratio}, times Amdahl's four-core speed-up from the 1 -> 2 core speed-up measured here; ${report.projection.source}${report.projection.sysbenchRatio ? `; sysbench here: ${report.projection.sysbenchRatio.toFixed(1)}x a Pi 4 core` : ''}):`);
    out.push('');
    out.push('| row | figure | fps here 1 / 2 cores | parallel fraction | 4-core speed-up | Pi 4 fps, 1 core | Pi 4 fps, 4 cores |');
    out.push('|---|---|---|---|---|---|---|');
    for (const p of report.projection.rows) out.push(`| ${p.model} | ${p.figure} | ${fmt(p.fps1)} / ${fmt(p.fps2)} | ${fmt(p.parallel, 2)} | ${fmt(p.speedup4, 2)} | ${fmt(p.pi4OneCoreFps)} | ${fmt(p.pi4FourCoreFps)} |`);
  }
  if (report.fanOut) {
    out.push('');
    out.push(`Fan-out (default model, 640x480 unthrottled, daemon on one core, clients on the other; alternating windows): 1 fast + 1 slow viewer ${report.fanOut.oneFps.map((f) => fmt(f)).join(', ')} fps; 10 fast + 1 slow ${report.fanOut.tenFps.map((f) => fmt(f)).join(', ')} fps; pair costs ${report.fanOut.pairCostPercent.map((c) => c.toFixed(0)).join(', ')}%.`);
  }
  out.push('');
  out.push('Per scenario (stage times median / p95 ms; latency is capture to arrival at a fast socket.io viewer on loopback; load: 1-minute load average at the start and end of the window):');
  out.push('');
  out.push('| model | clip | cores | input | viewers | stream | engine | fps | encoded fps | read | preprocess | infer | overlay | encode | send | latency | CPU ms/frame | RSS steady / peak MB | tensors | fast / slow viewer frames | load |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of report.scenarios) {
    out.push(
      `| ${s.model} | ${s.clip} | ${s.cores} | ${s.pacing} | ${s.viewers} | ${s.stream} | ${shortEngine(s.engine)} | ${fmt(s.fps)} | ${fmt(s.encodedFps)} | ${spread(s.stages.read)} | ${spread(s.stages.preprocess)} | ${spread(s.stages.infer)} | ${spread(s.stages.overlay)} | ${spread(s.stages.encode)} | ${spread(s.stages.send, 0)} | ${spread(s.latency, 0)} | ${fmt(s.cpuMsPerFrame, 2)} | ${fmt(s.rssSteadyMB, 0)} / ${fmt(s.rssPeakMB, 0)} | ${s.tensorsStart} -> ${s.tensorsEnd} | ${fmt(s.framesPerFastViewer, 0)} / ${s.slowViewerFrames} | ${s.load.map((l) => fmt(l)).join(' -> ')} |`,
    );
  }
  if (report.references.length) {
    out.push('');
    out.push('Reference loop (bench/reference/loop.py: the same network and weights in PyTorch, read + preprocess + infer + putText + imencode every frame, same clip, same taskset):');
    out.push('');
    out.push('| model | clip | cores | threads asked | torch threads (its default) | fps | CPU ms/frame | stage means ms | load |');
    out.push('|---|---|---|---|---|---|---|---|---|');
    for (const r of report.references) {
      out.push(`| ${r.model} | ${r.clip} | ${r.cores} | ${r.threads} | ${r.torchThreads} (${r.torchDefaultThreads}) | ${fmt(r.fps)} | ${fmt(r.cpuMsPerFrame, 2)} | ${Object.entries(r.stagesMs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')} | ${r.load.map((l) => fmt(l)).join(' -> ')} |`);
    }
  }
  if (report.referenceFailures.length) {
    out.push('');
    for (const f of report.referenceFailures) out.push(`- reference for ${f.model}${f.cores ? ` on ${f.cores} core(s)` : ''} failed: ${f.error}`);
  }
  return out.join('\n') + '\n';
}

/** "opencv (auto: ...)" -> "opencv": the reason is in latest.json. */
function shortEngine(engine: string): string {
  return engine.split(' ')[0];
}
