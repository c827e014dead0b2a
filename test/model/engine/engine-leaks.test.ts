import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { defaultModelDir } from '../../helpers/fixtures';

describe('OpenCV DNN engine: no Mat or tensor leak', function () {
  this.timeout(120_000);

  it('classify and classifyBatchAsync on OpenCV DNN leave no Mat and no tensor behind over 500 more rounds', () => {
    const child = spawnSync(process.execPath, [path.join(__dirname, 'leak-child.js'), defaultModelDir], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { engine: string; at50: { mats: number; tensors: number }; at550: { mats: number; tensors: number } };
    assert.equal(r.engine, 'opencv');
    // Each round makes 2 blobs, 2-3 input views, an output and its copy: a leak of any would add 500+.
    assert.equal(r.at550.mats, r.at50.mats, `Mats outstanding: ${r.at50.mats} after 50 rounds, ${r.at550.mats} after 550`);
    assert.equal(r.at550.tensors, r.at50.tensors);
  });
});
