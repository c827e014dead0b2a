import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WindowReport } from '../../src/bench/agent';
import { buildReport, projectFigure, toMarkdown } from '../../src/bench/report';
import { AgentProcess, SERVICE_ENVIRONMENT, type BenchRun, type ReferenceRun, type ScenarioResult } from '../../src/bench/runner';
import { SampleSet, spreadOf } from '../../src/bench/samples';
import { BenchViewer } from '../../src/bench/viewer';
import { sleep, thirtyFpsClip } from '../helpers/daemon';
import { defaultModelDir, projectRoot, tempDir } from '../helpers/fixtures';

describe('benchmark', () => {
  it('measures memory with the environment the systemd unit gives the daemon', () => {
    const unit = fs.readFileSync(path.join(projectRoot, 'systemd', 'edgesight.service'), 'utf8');
    for (const [key, value] of Object.entries(SERVICE_ENVIRONMENT)) assert.match(unit, new RegExp(`^Environment=${key}=${value}$`, 'm'));
  });

  it('takes medians and 95th percentiles from a fixed-size sample set', () => {
    const set = new SampleSet(100);
    for (let i = 1; i <= 150; i++) set.add(i); // the first 50 are overwritten
    assert.equal(set.count, 100);
    assert.deepEqual(set.spread(), { median: 101, p95: 146 });
    assert.equal(set.max(), 150);
    assert.deepEqual(spreadOf([]), { median: NaN, p95: NaN });
  });

  it('measures a real daemon process over IPC: stage times, CPU, memory, tensors, and a viewer’s latency', async function () {
    this.timeout(60_000);
    const flags = {
      source: thirtyFpsClip().file,
      'model.path': defaultModelDir,
      'file.realtime': false,
      'server.host': '127.0.0.1',
      'server.port': 0,
      'state.dir': tempDir('edgesight-bench-state-'),
      'log.level': 'silent',
      'pipeline.reportEverySeconds': 0,
    };
    const agent = new AgentProcess(path.join(projectRoot, 'dist', 'src', 'bench', 'agent.js'), flags, '0');
    try {
      const ready = await agent.ready;
      assert.ok(ready.firstFrameMs > 0 && ready.firstFrameMs < 30_000, `first frame after ${ready.firstFrameMs} ms`);
      assert.match(ready.engine, /^(opencv|tfjs) \(/, 'the engine the model runs on, and why');
      await agent.request({ type: 'begin' });
      await sleep(1500);
      const alone = (await agent.request({ type: 'end' })) as WindowReport;
      assert.ok(alone.classified > 30, `classified ${alone.classified}`);
      assert.equal(alone.encoded, 0, 'nothing encoded without a viewer');
      assert.equal(alone.dropped, 0, 'a file read on demand drops nothing');
      assert.ok(alone.stages.infer.median > 0 && alone.stages.infer.p95 >= alone.stages.infer.median);
      assert.ok(!Number.isFinite(alone.stages.encode.median), "no encode times without a viewer (NaN arrives as null over IPC)");
      assert.ok(alone.cpuMsPerFrame > 0 && alone.rssSteadyMB > 50 && alone.rssPeakMB >= alone.rssSteadyMB);
      assert.equal(alone.tensorsEnd, alone.tensorsStart);

      const viewer = new BenchViewer(`http://127.0.0.1:${ready.port}`, ready.token);
      try {
        await viewer.connected();
        await agent.request({ type: 'begin' });
        await sleep(1500);
        const watched = (await agent.request({ type: 'end' })) as WindowReport;
        assert.ok(watched.encoded > 10 && viewer.frames > 10, `encoded ${watched.encoded}, viewer got ${viewer.frames}`);
        const latency = viewer.latency.spread();
        assert.ok(latency.median > 0 && latency.p95 < 1000, `latency ${JSON.stringify(latency)}`);
        assert.ok(watched.stages.encode.median > 0);
      } finally {
        viewer.close();
      }
    } finally {
      await agent.stop();
    }
  });

  it('compares each row with the reference, as shipped and encoding every frame, and checks each goal against what was measured', () => {
    const spread = { median: 1, p95: 2 };
    const scenario = (over: Partial<ScenarioResult>): ScenarioResult => ({
      model: 'default', clip: '640x480', cores: 2, pacing: 'unthrottled', viewers: '1', stream: 'shipped', backend: 'wasm', engine: 'opencv (auto: ...)', load: [1, 1], fps: 400, captured: 2000, classified: 2000, dropped: 0, encoded: 150, encodedFps: 30,
      cpuMsPerFrame: 3, stages: { read: spread, preprocess: spread, infer: spread, overlay: spread, encode: spread, send: spread }, latency: { median: 5, p95: 9 },
      framesPerFastViewer: 150, slowViewerFrames: 5, rssPeakMB: 240, rssSteadyMB: 230, tensorsStart: 8, tensorsEnd: 8, ...over,
    });
    const reference = (cores: number, threads: 'default' | 'cores', fps: number, model: ReferenceRun['model'] = 'default'): ReferenceRun => ({
      model, clip: '640x480', cores, threads, load: [1, 1], fps, frames: fps * 5, seconds: 5, cpuMsPerFrame: 1000 / fps, stagesMs: { infer: 1 },
      maxDifference: 2e-7, preprocessDifference: 0, torchDefaultThreads: 1, torchThreads: threads === 'cores' ? cores : 1, cvThreads: cores, torch: '1.13', opencv: '4.6',
    });
    const run: BenchRun = {
      scenarios: [
        scenario({ viewers: '0', fps: 420, encoded: 0, encodedFps: 0, latency: null }),
        scenario({}),
        scenario({ stream: 'every-frame', fps: 380, encodedFps: 190 }),
        scenario({ viewers: '1+slow', fps: 390 }),
        scenario({ viewers: '10+slow', fps: 330 }),
        scenario({ pacing: '30fps', fps: 30, captured: 150, classified: 140, dropped: 10, latency: { median: 6, p95: 35 } }),
        scenario({ pacing: '30fps', viewers: '1+slow', fps: 30 }),
        scenario({ cores: 1, viewers: '0', fps: 300, encoded: 0, encodedFps: 0, latency: null }),
        scenario({ cores: 1, fps: 200, tensorsEnd: 9, rssSteadyMB: 260 }),
        scenario({ cores: 1, stream: 'every-frame', fps: 150, encodedFps: 100 }),
        scenario({ cores: 1, viewers: '1+slow', fps: 190 }),
        scenario({ cores: 1, viewers: '10+slow', fps: 160 }),
        scenario({ model: 'teachable-mobilenet', cores: 1, stream: 'every-frame', fps: 40, encodedFps: 40 }),
      ],
      // On 2 cores the reference ran with torch's default (1 thread) and one thread per core: the faster counts.
      references: [reference(2, 'default', 150), reference(2, 'cores', 160), reference(1, 'default', 100)],
      referenceFailures: [{ model: 'teachable-mobilenet', cores: null, error: 'layer x (Reshape): the reference has no translation for this layer type' }],
      firstFrameMs: [1200, 1100, 3500],
      fanOut: { oneFps: [400, 380, 420], tenFps: [350, 340, 360], pairCostPercent: [12.5, 10.5, 14.3], costPercent: 12.5 },
    };
    const report = buildReport(run, 'test', null);
    assert.deepEqual(
      report.comparisons.map((c) => [c.model, c.cores, c.shippedFps, c.everyFrameFps, c.referenceFps, c.shippedRatio, c.everyFrameRatio]),
      [['default', 1, 200, 100, 100, 2, 1], ['default', 2, 400, 190, 160, 2.5, 190 / 160], ['teachable-mobilenet', 1, null, 40, null, null, null]],
    );
    assert.deepEqual(report.comparisons[1].referenceRuns.map((r) => [r.torchThreads, r.fps]), [[1, 150], [2, 160]]);
    assert.equal(report.comparisons[1].engine, 'opencv (auto: ...)');
    const met = Object.fromEntries(report.goals.map((g) => [g.goal, g.met]));
    assert.equal(met['default, 1 core: as shipped >= 2x the reference'], true);
    assert.equal(met['default, 1 core: encoding every frame >= 1.2x the reference'], false); // 1.00x
    assert.equal(met['default, 2 cores: as shipped >= 2x the reference'], true);
    assert.equal(met['default, 2 cores: encoding every frame >= 1.2x the reference'], false); // 1.19x
    assert.equal(met['teachable-mobilenet, 1 core: as shipped >= 2x the reference'], false);
    assert.match(report.goals.find((g) => g.goal.startsWith('teachable-mobilenet, 1 core: encoding'))!.value, /^no figure \(layer x \(Reshape\)/);
    assert.equal(met['default model at 30 fps input: every frame classified'], false);
    assert.equal(met['default model at 30 fps: capture-to-client latency p95 < 30 ms'], false);
    assert.equal(met['10 viewers cost < 10% of throughput compared with 1 (daemon on its own core)'], false); // median pair cost 12.5%
    assert.match(report.goals.find((g) => g.goal.startsWith('10 viewers'))!.value, /^12\.5%, the median of 3 pairs of adjacent windows \(the middle half of pair costs 11 to 14%; medians 400\.0 -> 350\.0 fps\)/);
    assert.equal(met['with 0 viewers no frame is encoded'], true);
    assert.equal(met['steady RSS with the default model < 250 MB'], false);
    assert.equal(met['tensor count flat'], false);
    assert.equal(met['`edgesight run` to first classified frame < 3 s'], true); // median 1.2 s
    // Pi 4: the reference went 100 -> 160 fps from 1 to 2 cores: s2 = 1.6, p = 2 (1 - 1/1.6) = 0.75, S4 = 1 / (0.25 + 0.1875).
    const ref = report.projection.rows.find((p) => p.model === 'default' && p.figure === 'reference')!;
    assert.ok(Math.abs(ref.parallel - 0.75) < 1e-12 && Math.abs(ref.speedup4 - 1 / 0.4375) < 1e-12);
    assert.equal(ref.pi4OneCoreFps, 100 / 8);
    assert.ok(Math.abs(ref.pi4FourCoreFps - (100 / 8) * (1 / 0.4375)) < 1e-9);
    // Twice as fast on two cores is all parallel (four times on four); slower on two is none.
    assert.equal(projectFigure(100, 200).speedup4, 4);
    assert.equal(projectFigure(100, 90).speedup4, 1);
    const markdown = toMarkdown(report);
    assert.match(markdown, /\| default \| 2 \| opencv \| 400\.0 \| 190\.0 \(380\.0\) \| \*\*160\.0\*\* \(1: 150\.0, 2: 160\.0\) \| 2\.50x \| 1\.19x \|/);
  });

  it('leaves out what a --compare run did not measure', () => {
    const report = buildReport({ scenarios: [], references: [], referenceFailures: [], referenceSkipped: '/usr/bin/python3 cannot import cv2, torch and numpy', firstFrameMs: [] }, 'test', null);
    assert.deepEqual(report.comparisons, []);
    assert.equal(report.startup, null);
    assert.deepEqual(report.goals.map((g) => g.goal), ['tensor count flat']);
    assert.match(toMarkdown(report), /Reference not run: \/usr\/bin\/python3 cannot import/);
  });
});
