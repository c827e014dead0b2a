import { strict as assert } from 'node:assert';
import { DecisionMaker, UNCERTAIN } from '../../src/pipeline/decision';

const labels = ['cat', 'dog', 'fox'];
const base = { topK: 2, threshold: 0.5, smoothing: 'none' as const, window: 3, votes: 2 };

describe('DecisionMaker', () => {
  it('ranks the top k and keeps the frame top label', () => {
    const d = new DecisionMaker(labels, base).decide([0.1, 0.7, 0.2]);
    assert.equal(d.label, 'dog');
    assert.equal(d.index, 1);
    assert.deepEqual(d.topk.map((t) => t.label), ['dog', 'fox']);
    assert.equal(d.frameTop.label, 'dog');
  });

  it('says uncertain below the threshold but still reports the frame top', () => {
    const d = new DecisionMaker(labels, { ...base, threshold: 0.8 }).decide([0.1, 0.7, 0.2]);
    assert.equal(d.label, UNCERTAIN);
    assert.equal(d.uncertain, true);
    assert.equal(d.index, -1);
    assert.equal(d.frameTop.label, 'dog');
  });

  it('averages scores over the window', () => {
    const dm = new DecisionMaker(labels, { ...base, smoothing: 'average', window: 3 });
    dm.decide([0.9, 0.05, 0.05]);
    dm.decide([0.9, 0.05, 0.05]);
    const d = dm.decide([0.1, 0.85, 0.05]);
    assert.equal(d.label, 'cat');
    assert.ok(Math.abs(d.confidence - (0.9 + 0.9 + 0.1) / 3) < 1e-6);
    assert.equal(d.frameTop.label, 'dog');
    // Two more dog frames (three in a row) push the cats out of the window.
    dm.decide([0.1, 0.85, 0.05]);
    const later = dm.decide([0.1, 0.85, 0.05]);
    assert.equal(later.label, 'dog');
    assert.ok(Math.abs(later.confidence - 0.85) < 1e-6);
  });

  it('votes: a label needs N of the last M frames', () => {
    const dm = new DecisionMaker(labels, { ...base, smoothing: 'vote', window: 3, votes: 2, threshold: 0 });
    assert.equal(dm.decide([0.9, 0.05, 0.05]).label, UNCERTAIN); // 1 of 1 is fewer than 2 votes
    assert.equal(dm.decide([0.2, 0.7, 0.1]).label, UNCERTAIN); // cat 1, dog 1
    assert.equal(dm.decide([0.2, 0.7, 0.1]).label, 'dog'); // dog 2 of 3
    assert.equal(dm.decide([0.8, 0.1, 0.1]).label, 'dog'); // dog 2, cat 1
    assert.equal(dm.decide([0.8, 0.1, 0.1]).label, 'cat'); // cat 2 of 3
  });

  it('changes settings at run time and refuses a wrong score count', () => {
    const dm = new DecisionMaker(labels, base);
    dm.update({ topK: 3, threshold: 0.05 });
    const d = dm.decide([0.1, 0.3, 0.6]);
    assert.equal(d.topk.length, 3);
    assert.equal(d.label, 'fox');
    assert.throws(() => dm.decide([0.5, 0.5]), /expected 3 scores, got 2/);
  });
});
