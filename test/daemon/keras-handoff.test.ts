import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';
import { projectRoot, runCliAsync, tempDir } from '../helpers/fixtures';
import { LiveClient } from '../helpers/live-client';

const kerasModels = path.join(projectRoot, 'test', 'fixtures', 'keras-models');
const DIGITS = Array.from({ length: 10 }, (_, i) => `digit ${i}`);

/** A real Keras file in a folder of its own, with a labels.txt beside it when `labels` is given. */
function kerasFileWith(name: string, labels?: string[]): string {
  const file = path.join(tempDir('edgesight-keras-'), name);
  fs.copyFileSync(path.join(kerasModels, name), file);
  if (labels) fs.writeFileSync(path.join(path.dirname(file), 'labels.txt'), labels.join('\n') + '\n');
  return file;
}

describe('Keras files handed off to a running daemon (deploy, inbox, upload, rollback)', function () {
  this.timeout(180_000);
  let d: TestDaemon;
  let viewer: LiveClient;
  const model = async () => json(fetch(d.base + '/api/model', { headers: d.authHeaders }));
  /** The labels the live stream's frames come out with, over the next frames. */
  const streamLabels = async () => {
    const from = viewer.frames.length;
    await waitUntil('frames', () => viewer.frames.length > from + 10);
    return new Set(viewer.frames.slice(from).map((f) => f.meta.label));
  };

  before(async () => {
    d = await startTestDaemon({ 'decision.threshold': 0 });
    viewer = new LiveClient(d.base, { token: d.token });
    await viewer.connected();
  });
  after(async () => {
    viewer?.close();
    await d?.stop();
  });

  it('`edgesight deploy FILE.h5` sends the file with its labels.txt; the daemon serves it and classifies the stream with its labels', async () => {
    const file = kerasFileWith('himalrana_mnist_cnn.h5', DIGITS);
    const result = await runCliAsync(['deploy', file, '--to', d.base, '--token', d.token]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /now serving himalrana_mnist_cnn\.h5 keras 3\.10\.0 \(10 labels\)/);
    assert.deepEqual((await model()).labels, DIGITS);
    for (const label of await streamLabels()) assert.ok(DIGITS.includes(label) || label === 'uncertain', `frame labelled ${label}`);
    const stored = path.join(d.stateDir, 'models', 'active');
    assert.deepEqual(fs.readdirSync(stored).sort(), ['himalrana_mnist_cnn.h5', 'labels.txt']);
  });

  it('takes a .keras file dropped straight into the inbox', async () => {
    const file = kerasFileWith('goubigon_mnist_model.keras');
    fs.copyFileSync(file, path.join(d.stateDir, 'inbox', 'goubigon_mnist_model.keras'));
    await waitUntil('the dropped file serving', async () => (await model()).name === 'goubigon_mnist_model.keras', 60_000);
    assert.deepEqual((await model()).labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(fs.readdirSync(path.join(d.stateDir, 'inbox')), [], 'the taken file (or its folder) stayed in the inbox');
    await streamLabels();
  });

  it('refuses a truncated Keras upload by name, and the running model keeps serving', async () => {
    const bytes = fs.readFileSync(path.join(kerasModels, 'himalrana_mnist_cnn.h5'));
    const form = new FormData();
    form.append('file', new Blob([bytes.subarray(0, Math.floor(bytes.length / 2))]), 'half.h5');
    const res = await fetch(d.base + '/api/model', { method: 'POST', body: form, headers: d.authHeaders });
    assert.equal(res.status, 422);
    assert.match((await json(res)).error, /half\.h5/);
    assert.equal((await model()).name, 'goubigon_mnist_model.keras');
    await streamLabels();
  });

  it('rolls back to the deployed .h5 and serves it again after a restart', async () => {
    const res = await fetch(d.base + '/api/model/rollback', { method: 'POST', headers: d.authHeaders });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    assert.equal((await model()).name, 'himalrana_mnist_cnn.h5');
    assert.deepEqual((await model()).labels, DIGITS);
    viewer.close();
    await d.stop();
    d = await startTestDaemon({ 'state.dir': d.stateDir });
    viewer = new LiveClient(d.base, { token: d.token });
    await viewer.connected();
    assert.equal((await model()).name, 'himalrana_mnist_cnn.h5');
    await streamLabels();
  });
});
