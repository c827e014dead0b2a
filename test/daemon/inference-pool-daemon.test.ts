import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clipTruth, json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';
import { digitsPackage } from '../helpers/model-packages';
import { formatReport, gatherReport } from '../../src/daemon/doctor';
import { loadConfig } from '../../src/config/load';

describe('the daemon with pipeline.workers 2 (real daemon, real workers)', function () {
  this.timeout(180_000);
  let d: TestDaemon | undefined;

  after(async () => {
    await d?.stop();
  });

  it('serves on two workers, shows them with their memory in /api/status, hands off to a new model in both, and ends them at stop', async () => {
    // model.backend auto would put the default model on OpenCV DNN, which stays in-process.
    d = await startTestDaemon({ 'pipeline.workers': 2, 'model.backend': 'wasm' });
    const daemon = d.daemon;
    const pool = daemon.pool!;
    assert.equal(pool.threads().length, 2);
    await waitUntil('frames classified', () => daemon.pipeline!.stats.classified > 30);
    const latest = daemon.pipeline!.latest!;
    assert.equal(latest.decision.frameTop.label, clipTruth(latest.seq), 'the workers classify the clip right');

    const status = await waitUntil('worker memory in the status', async () => {
      const s = await json(fetch(d!.base + '/api/status', { headers: d!.authHeaders }));
      return s.workers.perWorker.every((w: { externalMB: number | null }) => w.externalMB !== null) && s;
    });
    assert.equal(status.workers.count, 2);
    assert.equal(status.workers.engine, 'tfjs wasm in 2 worker threads');
    assert.equal(status.workers.crashes, 0);
    for (const w of status.workers.perWorker) {
      assert.equal(w.state, 'ready');
      assert.equal(w.models, 1);
      // A WASM heap holds at least the model's weights and TF.js's own start-up allocation.
      assert.ok(w.externalMB > 1 && w.heapMB > 1, JSON.stringify(w));
    }
    assert.match(status.engine, /2 workers, TF\.js wasm each \(pipeline\.workers 2\)/);

    // A hand-off through the inbox: the new model is in both workers before the switch.
    const modelsAtSwap: number[][] = [];
    daemon.events.on('model', () => modelsAtSwap.push(...pool.status().workers.map((w) => w.models)));
    const pkg = digitsPackage('pooled-2');
    fs.cpSync(pkg, path.join(d.stateDir, 'inbox', 'digits-pooled-2'), { recursive: true });
    await waitUntil('the new model serving', async () => (await json(fetch(d!.base + '/api/model', { headers: d!.authHeaders }))).version === 'pooled-2', 60_000);
    assert.equal(modelsAtSwap.length, 2);
    assert.ok(modelsAtSwap.every((models) => models.length === 2), `at the switch each worker held both models: ${JSON.stringify(modelsAtSwap)}`);
    const before = daemon.pipeline!.stats.classified;
    await waitUntil('frames after the swap', () => daemon.pipeline!.stats.classified > before + 30);
    await waitUntil('the old model dropped', () => pool.status().workers.every((w) => w.models.length === 1));

    const threads = pool.threads();
    await d.stop();
    d = undefined;
    assert.deepEqual(threads.map((t) => t.threadId), [-1, -1], 'worker threads outlived the daemon');
  });

  it('doctor loads the model on the workers pipeline.workers gives it and reports what each holds', async () => {
    const config = loadConfig({ flags: { 'pipeline.workers': 2, 'model.backend': 'wasm' } });
    const report = await gatherReport(config);
    assert.equal(report.model.workers?.count, 2, JSON.stringify(report.model));
    assert.equal(report.model.workers?.perWorker.length, 2);
    assert.ok(report.model.workers!.perWorker.every((w) => w.externalMB > 1 && w.tensors > 0));
    assert.match(formatReport(report), /^workers  ok   2 inference worker threads, each with its own TF\.js WASM and model copy \(pipeline\.workers 2\): #0 heap [\d.]+ MB, WASM and buffers [\d.]+ MB, \d+ tensors; #1 /m);
    const auto = await gatherReport(loadConfig({ flags: { 'model.backend': 'wasm' } }));
    assert.equal(auto.model.workers?.count, 1);
    assert.match(formatReport(auto), /^workers  ok   1: inference on the main thread \(auto: /m);
  });
});
