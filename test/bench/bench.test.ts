import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WindowReport } from '../../src/bench/agent';
import { buildReport } from '../../src/bench/report';
import { AgentProcess, SERVICE_ENVIRONMENT, type BenchRun, type ScenarioResult } from '../../src/bench/runner';
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

  it('compares with the reference and checks each goal against what was measured', () => {
    const spread = { median: 1, p95: 2 };
    const scenario = (over: Partial<ScenarioResult>): ScenarioResult => ({
      model: 'default', clip: '640x480', cores: 2, pacing: 'unthrottled', viewers: '1', backend: 'wasm', fps: 400, captured: 2000, classified: 2000, dropped: 0, encoded: 150,
      cpuMsPerFrame: 3, stages: { read: spread, preprocess: spread, infer: spread, overlay: spread, encode: spread, send: spread }, latency: { median: 5, p95: 9 },
      framesPerFastViewer: 150, slowViewerFrames: 5, rssPeakMB: 240, rssSteadyMB: 230, tensorsStart: 8, tensorsEnd: 8, ...over,
    });
    const run: BenchRun = {
      scenarios: [
        scenario({ viewers: '0', fps: 420, encoded: 0, latency: null }),
        scenario({}),
        scenario({ viewers: '1+slow', fps: 390 }),
        scenario({ viewers: '10+slow', fps: 330 }),
        scenario({ pacing: '30fps', fps: 30, captured: 150, classified: 140, dropped: 10, latency: { median: 6, p95: 35 } }),
        scenario({ pacing: '30fps', viewers: '1+slow', fps: 30 }),
        scenario({ cores: 1, viewers: '0', fps: 300, encoded: 0, latency: null }),
        scenario({ cores: 1, fps: 190, tensorsEnd: 9, rssSteadyMB: 260 }),
        scenario({ cores: 1, viewers: '1+slow', fps: 190 }),
        scenario({ cores: 1, viewers: '10+slow', fps: 160 }),
      ],
      references: [
        { model: 'default', clip: '640x480', cores: 2, fps: 160, frames: 900, stagesMs: {} },
        { model: 'default', clip: '640x480', cores: 1, fps: 160, frames: 900, stagesMs: {} },
      ],
      firstFrameMs: [1200, 1100, 3500],
      fanOut: { oneFps: [400, 380, 420], tenFps: [350, 340, 360], pairCostPercent: [12.5, 10.5, 14.3], costPercent: 12.5 },
    };
    const report = buildReport(run, 'test', null);
    assert.deepEqual(report.models.default.map((m) => [m.cores, m.edgesightFps, m.referenceFps, m.ratio]), [[2, 400, 160, 2.5], [1, 190, 160, 190 / 160]]);
    const met = Object.fromEntries(report.goals.map((g) => [g.goal, g.met]));
    assert.equal(met['default: throughput >= 2x the reference on 2 core(s)'], true);
    assert.equal(met['default: throughput >= 1.2x the reference on 1 core(s)'], false);
    assert.equal(met['default model at 30 fps input: every frame classified'], false);
    assert.equal(met['default model at 30 fps: capture-to-client latency p95 < 30 ms'], false);
    assert.equal(met['10 viewers cost < 10% of throughput compared with 1 (daemon on its own core)'], false); // median pair cost 12.5%
    assert.match(report.goals.find((g) => g.goal.startsWith('10 viewers'))!.value, /^12\.5%, the median of 3 pairs of adjacent windows \(the middle half of pair costs 11 to 14%; medians 400\.0 -> 350\.0 fps\)/);
    assert.equal(met['with 0 viewers no frame is encoded'], true);
    assert.equal(met['steady RSS with the default model < 250 MB'], false);
    assert.equal(met['tensor count flat'], false);
    assert.equal(met['`edgesight run` to first classified frame < 3 s'], true); // median 1.2 s
    assert.match(report.projection.lines[0], /3\.00 CPU ms\/frame here x 8 = 24\.0 ms on one Pi 4 core, about 42 frames\/s: keeps up/);
  });
});
