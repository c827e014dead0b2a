import { strict as assert } from 'node:assert';
import type { EncodedFrame, PipelineEvents } from '../../src/pipeline/pipeline';
import { parseSettingsPatch } from '../../src/pipeline/runtime-settings';
import { PredictionHistory } from '../../src/server/prediction-history';
import { ViewerHub, type Viewer } from '../../src/server/viewer-hub';
import type { PredictionRecord } from '../../src/server/wire';
import { TypedEmitter } from '../../src/util/typed-emitter';

function record(seq: number): PredictionRecord {
  return { seq, capturedAt: seq, decidedAt: seq, label: 'a', confidence: 1, uncertain: false, topk: [], timings: { read: 0, preprocess: 0, infer: 0, overlay: 0, encode: 0 }, width: 1, height: 1 };
}

describe('prediction history', () => {
  it('keeps the newest `capacity` records and pages them oldest first', () => {
    const h = new PredictionHistory(10);
    for (let seq = 1; seq <= 25; seq++) h.push(record(seq));
    assert.equal(h.latest()!.seq, 25);
    assert.deepEqual(h.since(0, 100).map((r) => r.seq), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    assert.deepEqual(h.since(20, 100).map((r) => r.seq), [21, 22, 23, 24, 25]);
    assert.deepEqual(h.since(0, 3).map((r) => r.seq), [23, 24, 25], 'the newest when more match than the limit');
    assert.deepEqual(h.since(25, 10), []);
  });
});

describe('runtime settings', () => {
  it('accepts flat or nested keys checked by the config schema', () => {
    assert.deepEqual(parseSettingsPatch({ decision: { threshold: 0.7, topK: 2 }, 'overlay.enabled': false }), { 'decision.threshold': 0.7, 'decision.topK': 2, 'overlay.enabled': false });
    assert.throws(() => parseSettingsPatch({ 'decision.topK': 2.5 }), /decision\.topK = 2\.5 is not allowed: must be an integer from 1 to 100/);
    assert.throws(() => parseSettingsPatch({ 'server.port': 1 }), /'server\.port' cannot change while running/);
    assert.throws(() => parseSettingsPatch('x'), /expected a JSON object/);
  });
});

describe('viewer hub flow control', () => {
  class Feed {
    readonly events = new TypedEmitter<PipelineEvents>();
    demand = 0;
    requestJpeg() {
      this.demand++;
      return () => this.demand--;
    }
  }
  const frame = (seq: number) => ({ result: { seq }, jpeg: Buffer.from([0xff, 0xd8]) }) as unknown as EncodedFrame;

  it('sends each viewer one frame until it is taken, and asks for encoding only while someone is ready', () => {
    const feed = new Feed();
    const hub = new ViewerHub(feed);
    const got: Record<string, number[]> = { fast: [], slow: [] };
    const fast: Viewer = { kind: 'live', deliver: (f) => (got.fast.push(f.result.seq), hub.taken(fast)) };
    const slow: Viewer = { kind: 'live', deliver: (f) => got.slow.push(f.result.seq) };
    assert.equal(feed.demand, 0, 'encoding requested with no viewer');
    hub.add(fast);
    hub.add(slow);
    assert.equal(feed.demand, 1, 'one request for all viewers');
    for (let seq = 1; seq <= 5; seq++) feed.events.emit('jpeg', frame(seq));
    assert.deepEqual(got.fast, [1, 2, 3, 4, 5]);
    assert.deepEqual(got.slow, [1], 'the slow viewer was sent frames it had not asked for');
    hub.taken(slow);
    feed.events.emit('jpeg', frame(6));
    assert.deepEqual(got.slow, [1, 6]);
    hub.remove(fast);
    assert.equal(feed.demand, 0, 'encoding still requested while the only viewer waits on its last frame');
    hub.setPaused(slow, true);
    hub.taken(slow);
    assert.equal(feed.demand, 0, 'a paused viewer asked for frames');
    hub.setPaused(slow, false);
    assert.equal(feed.demand, 1);
    hub.close();
    assert.equal(feed.demand, 0);
  });
});
