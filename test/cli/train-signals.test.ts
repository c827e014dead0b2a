import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeShapesDataset } from '../helpers/datasets';
import { cliPath, tempDir } from '../helpers/fixtures';

interface Stopped {
  code: number | null;
  stderr: string;
  files: string[];
  metadata: { training: { interrupted: boolean; bestEpoch: number; history: unknown[] } };
}

/** `edgesight train` for up to 500 epochs, sent `signal` once the first epoch has ended. */
async function trainUntil(signal: NodeJS.Signals, data: string, out: string): Promise<Stopped> {
  const child = spawn(process.execPath, [cliPath, 'train', '--data', data, '--out', out, '--size', '32x32', '--architecture', 'seed-cnn', '--epochs', '500', '--patience', '0', '--batch-size', '16'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (!sent && /epoch 1\/500 loss/.test(stderr)) {
      sent = true;
      child.kill(signal);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const files = fs.existsSync(out) ? fs.readdirSync(out, { recursive: true }).map(String).filter((f) => !f.includes('selftest')).sort() : [];
  const metadataFile = path.join(out, 'metadata.json');
  const metadata = fs.existsSync(metadataFile) ? JSON.parse(fs.readFileSync(metadataFile, 'utf8')) : { training: {} };
  return { code, stderr, files, metadata };
}

describe('edgesight train stopped by a signal', function () {
  this.timeout(240_000);
  let root: string;
  let data: string;

  before(() => {
    root = tempDir('edgesight-train-signals-');
    data = path.join(root, 'shapes');
    writeShapesDataset(data, { classes: ['circle', 'square', 'triangle'], perClass: 30, size: 32, seed: 11 });
  });

  it('SIGTERM (systemd, CI, timeout) keeps the best epoch and writes the same output as Ctrl-C', async () => {
    const term = await trainUntil('SIGTERM', data, path.join(root, 'term'));
    assert.equal(term.code, 143, term.stderr);
    assert.match(term.stderr, /SIGTERM: stopping after this batch; the best epoch so far is kept/);
    assert.match(term.stderr, /^interrupted$/m);
    assert.match(term.stderr, /^keeping epoch \d+ \(best validation loss/m);
    assert.equal(term.metadata.training.interrupted, true);
    assert.ok(term.metadata.training.bestEpoch >= 1, term.stderr);
    assert.ok(term.files.includes('model.json') && term.files.includes(path.join('report', 'report.html')), term.files.join(', '));

    const int = await trainUntil('SIGINT', data, path.join(root, 'int'));
    assert.equal(int.code, 130, int.stderr);
    assert.deepEqual(term.files, int.files, 'SIGTERM and Ctrl-C write the same files');
  });
});
