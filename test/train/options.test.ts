import { strict as assert } from 'node:assert';
import { trainingSpec } from '../../src/train/options';

describe('train options: the default architecture', () => {
  const spec = (flags: Record<string, string>) => trainingSpec({ data: 'd', out: 'o', ...flags });

  it('is compact-s2 (stride-2 stem) at the default 96x96 and from 64x64 up', () => {
    assert.equal(spec({}).architecture, 'compact-s2');
    assert.equal(spec({ size: '64x64' }).architecture, 'compact-s2');
    assert.equal(spec({ size: '224x160' }).architecture, 'compact-s2');
  });

  it('is compact below 64 pixels on either side, where a halved stem leaves too little to pool', () => {
    assert.equal(spec({ size: '28x28' }).architecture, 'compact');
    assert.equal(spec({ size: '96x48' }).architecture, 'compact');
  });

  it('is whatever --architecture asks for', () => {
    assert.equal(spec({ architecture: 'compact' }).architecture, 'compact');
    assert.equal(spec({ size: '28x28', architecture: 'compact-s2' }).architecture, 'compact-s2');
    assert.throws(() => spec({ architecture: 'compact-s3' }), /--architecture must be one of seed-cnn, compact, compact-s2, mobile, got 'compact-s3'/);
  });
});
