import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';
import { LiveClient } from '../helpers/live-client';
import { digitsPackage, editJson, formOf, writeBlackPng } from '../helpers/model-packages';

const MB = 1048576;

/** The default digits model with one thing broken, the way a careless or hostile upload would. */
const brokenPackages: Record<string, (dir: string) => void> = {
  // Weights unchanged (0.7 MB); TF.js would create a 1200 x 300000 kernel before comparing.
  'dense units edited to 300000': (dir) => editJson(path.join(dir, 'model.json'), (m) => (m.modelTopology.config.layers[5].config.units = 300000, m)),
  // TF.js builds every layer, then finds a weight it has no variable for.
  'a weight renamed in the manifest': (dir) => editJson(path.join(dir, 'model.json'), (m) => (m.weightsManifest[0].weights[7].name = 'dense_Dense2/offset', m)),
  // The convolutions build; the first Dense kernel then disagrees with the weights.
  'input edited to 32x32': (dir) => editJson(path.join(dir, 'model.json'), (m) => (m.modelTopology.config.layers[0].config.batch_input_shape = [null, 32, 32, 1], m)),
  'an activation TF.js does not know': (dir) => editJson(path.join(dir, 'model.json'), (m) => (m.modelTopology.config.layers[7].config.activation = 'no_such_activation', m)),
};

describe('refused model hand-offs leave the serving model untouched (real daemon, real HTTP)', function () {
  this.timeout(300_000);
  let d: TestDaemon;
  let viewer: LiveClient;
  const upload = (body: FormData) => fetch(d.base + '/api/model', { method: 'POST', body, headers: d.authHeaders });
  const serving = async () => (await json(fetch(d.base + '/api/model', { headers: d.authHeaders }))).version as string;
  const framesIn = async (ms: number) => {
    const from = viewer.frames.length;
    await new Promise((r) => setTimeout(r, ms));
    return viewer.frames.length - from;
  };

  before(async () => {
    d = await startTestDaemon();
    viewer = new LiveClient(d.base, { token: d.token });
    await viewer.connected();
    await waitUntil('the stream running', () => viewer.frames.length > 30);
  });
  after(async () => {
    viewer?.close();
    await d?.stop();
  });

  it('refuses a Dense layer whose units disagree with its weights, naming the layer, before building anything', async () => {
    const tensors = tf.memory().numTensors;
    const rss = process.memoryUsage.rss();
    const pkg = digitsPackage('wide');
    brokenPackages['dense units edited to 300000'](pkg);
    const res = await upload(formOf(pkg));
    assert.equal(res.status, 422);
    assert.match((await json(res)).error, /model\.json: layer 'dense_Dense1' \(Dense\) is configured for kernel \[\?, 300000\], but its weights in the manifest have shape \[1200, 128\]/);
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    assert.ok(process.memoryUsage.rss() - rss < 64 * MB, `RSS grew by ${Math.round((process.memoryUsage.rss() - rss) / MB)} MB`);
  });

  it('twenty refused hand-offs in a row leave tensors, memory and the stream where they were, and a good package is then taken', async () => {
    const idleFrames = await framesIn(3000);
    const tensors = tf.memory().numTensors;
    const rss = process.memoryUsage.rss();
    const before = await serving();
    const kinds = Object.keys(brokenPackages);
    const started = Date.now();
    const framesAtStart = viewer.frames.length;
    for (let i = 0; i < 20; i++) {
      const kind = kinds[i % kinds.length];
      const pkg = digitsPackage(`broken-${i}`);
      brokenPackages[kind](pkg);
      const res = await upload(formOf(pkg));
      const body = await json(res);
      assert.equal(res.status, 422, `${kind}: ${JSON.stringify(body)}`);
      assert.match(body.error, /model\.json/, kind);
    }
    const seconds = (Date.now() - started) / 1000;
    const busyFps = (viewer.frames.length - framesAtStart) / seconds;
    const rssGrowth = (process.memoryUsage.rss() - rss) / MB;
    console.log(`      stream: ${(idleFrames / 3).toFixed(1)} frames/s idle, ${busyFps.toFixed(1)} frames/s over ${seconds.toFixed(1)} s of 20 refused hand-offs; RSS ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(0)} MB, tensors ${tensors} -> ${tf.memory().numTensors}`);
    assert.equal(tf.memory().numTensors, tensors, 'refused candidates leaked tensors into the serving process');
    assert.ok(rssGrowth < 96, `RSS grew by ${rssGrowth.toFixed(0)} MB over twenty refusals`);
    // The stream goes on at no less than half its idle rate while the refusals run.
    assert.ok(busyFps >= idleFrames / 3 / 2, `stream fell to ${busyFps.toFixed(1)} frames/s during refusals (idle ${(idleFrames / 3).toFixed(1)})`);
    assert.equal(await serving(), before);
    assert.equal((await fetch(d.base + '/healthz')).status, 200);
    assert.ok((await framesIn(2000)) > 20, 'the stream stopped');

    const good = await upload(formOf(digitsPackage('good-after-twenty')));
    assert.equal(good.status, 200, JSON.stringify(await good.clone().json()));
    assert.equal(await serving(), 'good-after-twenty');
    assert.ok((await framesIn(2000)) > 20, 'the new model does not classify the stream');
  });

  it('refuses a self-test image whose header says 16000x16000 before decoding it', async () => {
    const pkg = digitsPackage('bomb', [{ label: '0', digit: 0 }]);
    const bomb = path.join(pkg, 'selftest', '0', 'huge.png');
    await writeBlackPng(bomb, 16000, 16000);
    assert.ok(fs.statSync(bomb).size < 400_000);
    const rss = process.memoryUsage.rss();
    const res = await upload(formOf(pkg));
    assert.equal(res.status, 422);
    assert.match((await json(res)).error, /selftest\/0\/huge\.png: self-test image refused: is a 16000x16000 PNG \(256 megapixels\); images over 40 megapixels are refused before decoding/);
    assert.ok(process.memoryUsage.rss() - rss < 64 * MB);
    assert.notEqual(await serving(), 'bomb');
    assert.deepEqual(fs.readdirSync(path.join(d.stateDir, 'incoming')), [], 'the refused upload was left on disk');
  });
});
