import { strict as assert } from 'node:assert';
import { PipelineStats } from '../../src/pipeline/stats';

describe('PipelineStats', () => {
  it('measures frames per second from tick times', () => {
    const stats = new PipelineStats();
    for (let i = 0; i < 30; i++) stats.tick(1000 + i * 100); // 10 fps
    assert.ok(Math.abs(stats.fps(1000 + 29 * 100) - 10) < 1e-6);
    assert.equal(stats.classified, 30);
  });

  it('reports 0 fps when frames stopped coming', () => {
    const stats = new PipelineStats();
    for (let i = 0; i < 5; i++) stats.tick(i * 100);
    assert.equal(stats.fps(400 + 5000), 0);
  });

  it('keeps a moving average per stage that follows recent frames', () => {
    const stats = new PipelineStats();
    stats.record('infer', 10);
    assert.equal(stats.stageMs.infer, 10);
    for (let i = 0; i < 100; i++) stats.record('infer', 2);
    assert.ok(Math.abs(stats.stageMs.infer - 2) < 0.01);
    assert.equal(stats.snapshot().stageMs.read, 0);
  });
});
