import { strict as assert } from 'node:assert';
import type { FrameResult } from '../../src/pipeline/pipeline';
import { clipTruth, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';

describe('the daemon with model.backend opencv', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon({ 'model.backend': 'opencv', 'model.threads': 1 });
  });
  after(() => d?.stop());

  it('serves the default model on OpenCV DNN, says so in /api/status, and classifies the clip in order and correctly', async () => {
    const results: FrameResult[] = [];
    d.daemon.pipeline!.events.on('result', (r) => results.push(r));
    await waitUntil('60 classified frames', () => results.length >= 60, 30_000);
    const status = (await (await fetch(d.base + '/api/status', { headers: d.authHeaders })).json()) as Record<string, unknown>;
    assert.match(String(status.engine), /^opencv \(1 thread; within [\d.e-]+ of TF\.js\)$/);
    assert.ok((status.stageMs as Record<string, number>).infer > 0);
    for (let i = 1; i < results.length; i++) assert.ok(results[i].seq > results[i - 1].seq, 'in capture order');
    const correct = results.filter((r) => r.decision.frameTop.label === clipTruth(r.seq)).length;
    assert.ok(correct / results.length >= 0.9, `accuracy ${correct}/${results.length}`);
    const model = (await (await fetch(d.base + '/api/model', { headers: d.authHeaders })).json()) as Record<string, unknown>;
    assert.match(String(model.engine), /^opencv/);
  });
});
