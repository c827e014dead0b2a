import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { json, startTestDaemon } from '../helpers/daemon';
import { defaultModelDir, tempDir } from '../helpers/fixtures';

/** A copy of the default model as version `version` at `dir`. */
function digitsPackage(dir: string, version: string): void {
  fs.cpSync(defaultModelDir, dir, { recursive: true });
  const metaFile = path.join(dir, 'metadata.json');
  fs.writeFileSync(metaFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(metaFile, 'utf8')), version }));
}

describe('start-up falls back from a stored model that does not load (real daemon, real files)', function () {
  this.timeout(120_000);

  it('serves models/previous when models/active fails to load, then the shipped default when both fail, saying so in an error line naming the file', async () => {
    const stateDir = tempDir('edgesight-state-');
    const models = path.join(stateDir, 'models');
    digitsPackage(path.join(models, 'active'), 'active-broken');
    digitsPackage(path.join(models, 'previous'), 'previous-good');
    // The stored copy that once lacked its weights: model.json is there, weights.bin is not.
    fs.rmSync(path.join(models, 'active', 'weights.bin'));
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const version = async (d: { base: string; authHeaders: Record<string, string> }) => (await json(fetch(d.base + '/api/model', { headers: d.authHeaders }))).version;

    let d = await startTestDaemon({ 'state.dir': stateDir }, log);
    try {
      assert.equal(await version(d), 'previous-good');
    } finally {
      await d.stop();
    }
    const activeWeights = path.join(models, 'active', 'weights.bin');
    assert.ok(lines.some((l) => /"level":50/.test(l) && l.includes(activeWeights) && /weight shard is missing/.test(l)), 'no error line names active/weights.bin');

    const previousWeights = path.join(models, 'previous', 'weights.bin');
    fs.writeFileSync(previousWeights, fs.readFileSync(previousWeights).subarray(0, 100));
    lines.length = 0;
    d = await startTestDaemon({ 'state.dir': stateDir }, log);
    try {
      assert.equal(await version(d), JSON.parse(fs.readFileSync(path.join(defaultModelDir, 'metadata.json'), 'utf8')).version);
    } finally {
      await d.stop();
    }
    assert.ok(lines.some((l) => /"level":50/.test(l) && l.includes(previousWeights) && /weights have 100 bytes/.test(l)), 'no error line names previous/weights.bin');
    assert.ok(lines.some((l) => /"level":40/.test(l) && /because no model in the state directory loads/.test(l)), 'no warning says the default is serving');
  });
});
