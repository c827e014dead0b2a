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

describe('train options: the training engine', () => {
  const spec = (flags: Record<string, string>) => trainingSpec({ data: 'd', out: 'o', ...flags });

  it('is auto with Debian\'s interpreter unless told otherwise', () => {
    assert.equal(spec({}).engine, 'auto');
    assert.equal(spec({}).python, '/usr/bin/python3');
    assert.equal(spec({ engine: 'tfjs', python: '/opt/venv/bin/python' }).engine, 'tfjs');
    assert.equal(spec({ python: '/opt/venv/bin/python' }).python, '/opt/venv/bin/python');
  });

  it('refuses an unknown engine, and PyTorch for transfer learning, which runs on TF.js', () => {
    assert.throws(() => spec({ engine: 'pytorch' }), /--engine must be one of auto, torch, tfjs, got 'pytorch'/);
    assert.throws(() => spec({ engine: 'torch', base: 'model.h5' }), /--engine torch trains networks from scratch; transfer learning \(--base\) runs on TF\.js/);
    assert.equal(spec({ engine: 'auto', base: 'model.h5' }).engine, 'auto');
  });
});
