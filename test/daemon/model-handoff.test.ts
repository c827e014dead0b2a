import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';
import { defaultModelDir, runCliAsync, tempDir, writeTinyPackage } from '../helpers/fixtures';
import { digitsPackage, formOf } from '../helpers/model-packages';
import { LiveClient } from '../helpers/live-client';

describe('model hand-off (real daemon, real packages)', function () {
  this.timeout(180_000);
  let d: TestDaemon;
  let viewer: LiveClient;
  const models: Array<{ version: string }> = [];
  const refusals: Array<{ error: string }> = [];

  const upload = (body: FormData | Uint8Array, type?: string) =>
    fetch(d.base + '/api/model', { method: 'POST', body: body as unknown as RequestInit['body'], headers: { ...d.authHeaders, ...(type ? { 'Content-Type': type } : {}) } });
  const serving = async () => (await json(fetch(d.base + '/api/model', { headers: d.authHeaders }))).version as string;

  before(async () => {
    d = await startTestDaemon();
    viewer = new LiveClient(d.base, { token: d.token });
    viewer.socket.on('model', (m) => models.push(m));
    viewer.socket.on('modelRejected', (r) => refusals.push(r));
    await viewer.connected();
  });
  after(async () => {
    viewer?.close();
    await d?.stop();
  });

  it('takes a package copied into the inbox only once it is complete, and swaps it in while the stream goes on', async () => {
    const pkg = digitsPackage('inbox-1');
    const target = path.join(d.stateDir, 'inbox', 'digits-inbox-1');
    fs.mkdirSync(target, { recursive: true });
    // A copy in progress: model.json and metadata.json are there, the weights are not yet.
    fs.copyFileSync(path.join(pkg, 'model.json'), path.join(target, 'model.json'));
    fs.copyFileSync(path.join(pkg, 'metadata.json'), path.join(target, 'metadata.json'));
    const half = fs.readFileSync(path.join(pkg, 'weights.bin')).subarray(0, 1000);
    fs.writeFileSync(path.join(target, 'weights.bin'), half);
    await new Promise((r) => setTimeout(r, 8000));
    assert.notEqual(await serving(), 'inbox-1', 'a half-copied package was picked up');
    assert.ok(fs.existsSync(target), 'the half-copied package left the inbox');
    const framesBefore = viewer.frames.length;
    fs.copyFileSync(path.join(pkg, 'weights.bin'), path.join(target, 'weights.bin'));
    await waitUntil('the inbox package serving', async () => (await serving()) === 'inbox-1', 30_000);
    // Removed from the inbox right after the swap (on the thread pool, so a moment later).
    await waitUntil('the package gone from the inbox', () => !fs.existsSync(target), 5000);
    assert.equal(models[models.length - 1]?.version, 'inbox-1', 'clients were not told');
    // The stream never stopped: frames kept arriving, with no gap over a second.
    await waitUntil('frames after the swap', () => viewer.frames.length > framesBefore + 30);
    const times = viewer.frames.slice(framesBefore).map((f) => f.receivedAt);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    assert.ok(Math.max(...gaps) < 1000, `the stream paused ${Math.max(...gaps)} ms`);
  });

  it('deploys over HTTP with `edgesight deploy`, running the self-test', async () => {
    const pkg = digitsPackage('deployed-2', [
      { label: '0', digit: 0 },
      { label: '1', digit: 1 },
      { label: '4', digit: 4 },
    ]);
    const result = await runCliAsync(['deploy', pkg, '--to', d.base, '--token', d.token]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /now serving edgesight-digits deployed-2 \(10 labels\)/);
    assert.equal(await serving(), 'deployed-2');
    assert.ok(fs.existsSync(path.join(d.stateDir, 'models', 'active', 'selftest', '4', 'digit-4.png')));
  });

  it('refuses a package whose self-test fails, and keeps serving the old one', async () => {
    const pkg = digitsPackage('bad-selftest', [{ label: '3', digit: 7 }]);
    const result = await runCliAsync(['deploy', pkg, '--to', d.base, '--token', d.token]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /self-test failed for 1 of 1 images: selftest\/3\/digit-7\.png came out as 7/);
    assert.equal(await serving(), 'deployed-2');
    assert.match(refusals[refusals.length - 1].error, /self-test failed/);
  });

  it('refuses corrupt, truncated and wrong-shape packages by name, and path traversal, while the stream keeps serving', async () => {
    const truncated = digitsPackage('truncated');
    const weights = path.join(truncated, 'weights.bin');
    fs.writeFileSync(weights, fs.readFileSync(weights).subarray(0, 5000));
    let res = await upload(formOf(truncated));
    assert.equal(res.status, 422);
    assert.match((await json(res)).error, /weights\.bin: weights have 5000 bytes but model\.json declares \d+/);

    const corrupt = digitsPackage('corrupt');
    fs.writeFileSync(path.join(corrupt, 'model.json'), '{"modelTopology": {');
    res = await upload(formOf(corrupt));
    assert.equal(res.status, 422);
    assert.match((await json(res)).error, /model\.json/);

    const wrongShape = path.join(tempDir(), 'flat');
    await writeTinyPackage(wrongShape, { inputShape: [8, 8] });
    res = await upload(formOf(wrongShape));
    assert.equal(res.status, 422);
    assert.match((await json(res)).error, /input must have rank 4/);

    const escape = path.resolve(d.stateDir, '..', 'escaped.json');
    res = await upload(formOf(digitsPackage('traversal'), (f) => (f === 'metadata.json' ? '../../escaped.json' : f)));
    assert.equal(res.status, 400);
    assert.match((await json(res)).error, /refused file name "\.\.\/\.\.\/escaped\.json"/);
    assert.ok(!fs.existsSync(escape));

    res = await upload(new Uint8Array(100), 'text/plain');
    assert.equal(res.status, 415);
    assert.equal(await serving(), 'deployed-2');
    assert.deepEqual(fs.readdirSync(path.join(d.stateDir, 'incoming')), [], 'refused uploads were left on disk');
    const frames = viewer.frames.length;
    await waitUntil('frames still flowing', () => viewer.frames.length > frames + 10);
  });

  it('accepts a zip of the package folder', async () => {
    const pkg = digitsPackage('zipped-3');
    const files: Record<string, Uint8Array> = {};
    for (const name of fs.readdirSync(pkg)) files[`digits-zipped-3/${name}`] = fs.readFileSync(path.join(pkg, name));
    const res = await upload(zipSync(files), 'application/zip');
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    assert.equal(await serving(), 'zipped-3');
  });

  it('rolls back to the previous package and forward again', async () => {
    let res = await fetch(d.base + '/api/model/rollback', { method: 'POST', headers: d.authHeaders });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).model.version, 'deployed-2');
    const cli = await runCliAsync(['rollback', '--to', d.base, '--token', d.token]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /now serving edgesight-digits zipped-3/);
    res = await fetch(d.base + '/api/model/rollback', { method: 'POST', headers: {} });
    assert.equal(res.status, 401);
  });

  it('moves a complete but broken inbox package to inbox/.rejected with the reason', async () => {
    const pkg = digitsPackage('wrong-labels');
    const metaFile = path.join(pkg, 'metadata.json');
    fs.writeFileSync(metaFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(metaFile, 'utf8')), labels: ['a', 'b'] }));
    fs.cpSync(pkg, path.join(d.stateDir, 'inbox', 'wrong-labels'), { recursive: true });
    const rejected = path.join(d.stateDir, 'inbox', '.rejected');
    const entry = await waitUntil('rejection', () => (fs.existsSync(rejected) ? fs.readdirSync(rejected).find((n) => n.endsWith('-wrong-labels')) : undefined), 30_000);
    assert.match(fs.readFileSync(path.join(rejected, entry, 'REJECTED.txt'), 'utf8'), /metadata\.json: .*2 labels.*10/);
    assert.equal(await serving(), 'zipped-3');
  });

  it('serves the handed-off model again after a restart', async () => {
    // A restart: the first daemon lets go of the state directory before the next one takes it.
    await d.stop();
    const again = await startTestDaemon({ 'state.dir': d.stateDir });
    try {
      assert.equal((await json(fetch(again.base + '/api/model', { headers: again.authHeaders }))).version, 'zipped-3');
    } finally {
      await again.stop();
    }
  });
});

describe('model upload limits', function () {
  this.timeout(60_000);
  it('refuses an upload over server.maxUploadMB with 413, multipart or zip, and keeps serving', async () => {
    const d = await startTestDaemon({ 'server.maxUploadMB': 1 });
    try {
      // Serving first, so that "keeps serving" below says something.
      await waitUntil('the first classified frame', () => d.daemon.pipeline?.latest);
      const big = new Uint8Array(1_500_000).map((_, i) => (i * 7919) % 251);
      const form = new FormData();
      form.append('file', new Blob([fs.readFileSync(path.join(defaultModelDir, 'model.json'))]), 'model.json');
      form.append('file', new Blob([big]), 'weights.bin');
      for (const [body, headers] of [
        [form, {}],
        [zipSync({ 'model.json': big }, { level: 0 }), { 'Content-Type': 'application/zip' }],
      ] as Array<[FormData | Uint8Array, Record<string, string>]>) {
        const res = await fetch(d.base + '/api/model', { method: 'POST', body: body as unknown as RequestInit['body'], headers: { ...d.authHeaders, ...headers } });
        assert.equal(res.status, 413);
        assert.match((await json(res)).error, /over the 1048576-byte limit \(server\.maxUploadMB\)/);
      }
      const seq = d.daemon.pipeline!.latest!.seq;
      await waitUntil('frames still classified after the refusals', () => d.daemon.pipeline!.latest!.seq > seq);
      assert.equal((await fetch(d.base + '/healthz')).status, 200);
    } finally {
      await d.stop();
    }
  });
});
