import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import pino from 'pino';
import { pullDataset } from '../../src/cli/dataset';
import { main as captureMain } from '../../src/cli/capture';
import { cv, type Mat } from '../../src/vision/cv';
import { clipTruth, json, startTestDaemon, thirtyFpsClip, sleep, waitUntil, type TestDaemon } from '../helpers/daemon';
import { tempDir } from '../helpers/fixtures';
import { LiveClient } from '../helpers/live-client';

/** Frame `seq` of the looping test clip, decoded by OpenCV as the daemon's file source does. */
function clipFrame(seq: number): Mat {
  const { file, truths } = thirtyFpsClip();
  const cap = new cv.VideoCapture(file);
  try {
    const index = (seq - 1) % truths.length;
    let frame = cap.read();
    for (let i = 0; i < index; i++) {
      frame.release();
      frame = cap.read();
    }
    return frame;
  } finally {
    cap.release();
  }
}

/** Fraction of pixels whose largest channel difference exceeds `over` (JPEG noise stays well below 48). */
function differing(a: Mat, b: Mat, over = 48): number {
  assert.equal(a.cols, b.cols);
  assert.equal(a.rows, b.rows);
  const pa = a.getData();
  const pb = b.getData();
  let count = 0;
  for (let i = 0; i < pa.length; i += 3) {
    const d = Math.max(Math.abs(pa[i] - pb[i]), Math.abs(pa[i + 1] - pb[i + 1]), Math.abs(pa[i + 2] - pb[i + 2]));
    if (d > over) count++;
  }
  return count / (pa.length / 3);
}

function indexLines(stateDir: string): Array<Record<string, any>> {
  const file = path.join(stateDir, 'dataset', 'index.jsonl');
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

async function post(d: TestDaemon, route: string, body: unknown, headers = d.authHeaders): Promise<{ status: number; body: any }> {
  const res = await fetch(d.base + route, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('dataset capture and API (real daemon on a real clip)', function () {
  this.timeout(180_000);
  let d: TestDaemon;

  before(async () => {
    d = await startTestDaemon();
    await waitUntil('first classified frame', () => d.daemon.pipeline?.latest);
  });
  after(async () => {
    await d?.stop();
  });

  it('refuses every dataset route without the token (401)', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/api/dataset'],
      ['POST', '/api/dataset/samples'],
      ['POST', '/api/dataset/capture/stop'],
      ['GET', '/api/dataset/samples?label=3'],
      ['GET', '/api/dataset/samples/3/x.jpg'],
      ['GET', '/api/dataset/samples/3/x.jpg/thumb'],
      ['PATCH', '/api/dataset/samples/3/x.jpg'],
      ['DELETE', '/api/dataset/samples/3/x.jpg'],
      ['GET', '/api/dataset/files'],
      ['GET', '/api/dataset/index.jsonl'],
      ['GET', '/api/dataset.zip'],
    ];
    for (const [method, route] of routes) {
      const res = await fetch(d.base + route, { method, headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, body: method === 'GET' ? undefined : '{"label":"3"}' });
      assert.equal(res.status, 401, `${method} ${route} answered ${res.status} without the token`);
    }
    assert.equal(fs.existsSync(path.join(d.stateDir, 'dataset', '3')), false, 'a refused capture wrote a sample');
  });

  it('a burst keeps raw frames (not the annotated ones viewers get) at full size, with an index line each', async () => {
    // A viewer makes the pipeline draw the overlay onto frames: the samples must not have it.
    const viewer = new LiveClient(d.base, { token: d.token });
    await viewer.connected();
    await waitUntil('annotated frames', () => viewer.frames.length >= 3);
    // Start at the beginning of a digit's 15 frames so the whole burst shows the same digit.
    const start = await waitUntil('the start of a digit', () => {
      const seq = d.daemon.pipeline!.latest!.seq;
      return (seq - 1) % 15 < 3 && seq;
    });
    const label = clipTruth(start);
    const { status, body } = await post(d, '/api/dataset/samples', { label, count: 3 });
    assert.equal(status, 201, JSON.stringify(body));
    assert.equal(body.samples.length, 3);
    assert.equal(body.job.state, 'done');
    const lines = indexLines(d.stateDir);
    for (const sample of body.samples) {
      const file = path.join(d.stateDir, 'dataset', label, sample.name);
      assert.ok(fs.existsSync(file), `${file} missing`);
      const line = lines.find((l) => l.file === `${label}/${sample.name}`);
      assert.ok(line, `no index line for ${sample.name}`);
      assert.equal(line.label, label);
      assert.equal(line.kind, 'capture');
      assert.equal(line.bytes, fs.statSync(file).size);
      assert.equal(line.model.name, d.daemon.pipeline!.classifier.loaded.metadata.name);
      assert.equal(line.model.version, d.daemon.pipeline!.classifier.loaded.metadata.version);
      assert.equal(typeof line.prediction.label, 'string');
      assert.ok(line.prediction.confidence > 0 && line.prediction.confidence <= 1);
      assert.equal(clipTruth(line.seq), label, `frame ${line.seq} shows another digit than the label`);
      assert.ok(line.source.includes('digits-30fps.avi'));
      const saved = cv.imread(file);
      assert.equal(saved.cols, 640);
      assert.equal(saved.rows, 480);
      assert.equal(line.width, 640);
      assert.equal(line.height, 480);
      const frame = clipFrame(line.seq);
      const diff = differing(saved, frame);
      assert.ok(diff < 0.002, `sample of frame ${line.seq} differs from the raw frame in ${(diff * 100).toFixed(2)}% of pixels`);
      saved.release();
      frame.release();
    }
    // The check above can tell: an annotated frame differs from its raw frame far more.
    const annotated = viewer.frames[viewer.frames.length - 1];
    const drawn = cv.imdecode(annotated.jpeg);
    const raw = clipFrame(annotated.meta.seq);
    const diff = differing(drawn, raw);
    assert.ok(diff > 0.01, `an annotated frame differs from its raw frame in only ${(diff * 100).toFixed(2)}% of pixels`);
    viewer.close();
  });

  it('one sample without viewers (the frame handed over without a copy) is the raw frame', async () => {
    await sleep(300);
    const { status, body } = await post(d, '/api/dataset/samples', { label: 'no-viewer' });
    assert.equal(status, 201, JSON.stringify(body));
    const line = indexLines(d.stateDir).find((l) => l.file === body.samples[0].id)!;
    const saved = cv.imread(path.join(d.stateDir, 'dataset', 'no-viewer', body.samples[0].name));
    const frame = clipFrame(line.seq);
    assert.ok(differing(saved, frame) < 0.002);
    saved.release();
    frame.release();
  });

  it('refuses bad labels and values with 400 naming the label and the rule', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['', /"" must not be empty/],
      ['x'.repeat(65), /at most 64 characters/],
      ['a/b', /"a\/b" must not contain a path separator/],
      ['a\\b', /path separator/],
      ['..', /must not contain '\.\.'/],
      ['x..y', /must not contain '\.\.'/],
      ['tab\there', /control characters/],
      ['.hidden', /"\.hidden" must not start with '\.'/],
      ['_unlabelled', /"_unlabelled" must not start with '_'/],
      ['_mine', /must not start with '_'/],
      [7, /must be a string/],
    ];
    for (const [label, rule] of cases) {
      const { status, body } = await post(d, '/api/dataset/samples', { label });
      assert.equal(status, 400, `label ${JSON.stringify(label)} answered ${status}`);
      assert.match(body.error, rule);
      assert.match(body.error, /^label /);
    }
    assert.match((await post(d, '/api/dataset/samples', { label: 'ok', count: 0 })).body.error, /count 0 must be an integer from 1 to 200 \(dataset\.maxBurst\)/);
    assert.match((await post(d, '/api/dataset/samples', { label: 'ok', everySeconds: -1 })).body.error, /everySeconds -1 must be a number/);
    assert.match((await post(d, '/api/dataset/samples', { label: 'ok', colour: 'red' })).body.error, /unknown field "colour"/);
    // Nothing was written for any of them: only the two labels captured above have folders.
    assert.deepEqual(fs.readdirSync(path.join(d.stateDir, 'dataset')).sort(), ['index.jsonl', 'no-viewer', indexLines(d.stateDir)[0].label].sort());
  });

  it('a timed capture answers 202 at once and keeps one sample every N seconds', async () => {
    const started = Date.now();
    const { status, body } = await post(d, '/api/dataset/samples', { label: 'timed', count: 3, everySeconds: 0.5 });
    assert.equal(status, 202, JSON.stringify(body));
    assert.ok(Date.now() - started < 400, 'the request waited for the timed capture');
    const busy = await post(d, '/api/dataset/samples', { label: 'other' });
    assert.equal(busy.status, 409);
    assert.match(busy.body.error, /already running \(label timed/);
    const job = await waitUntil('the timed capture to end', async () => {
      const summary = await json(fetch(d.base + '/api/dataset', { headers: d.authHeaders }));
      return summary.capture?.id === body.job.id && summary.capture.state !== 'running' && summary.capture;
    });
    assert.equal(job.state, 'done');
    assert.equal(job.saved, 3);
    const times = indexLines(d.stateDir).filter((l) => l.label === 'timed').map((l) => Date.parse(l.time));
    assert.equal(times.length, 3);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 400, `samples ${times[i] - times[i - 1]} ms apart`);
  });

  it('captures over socket.io, and edgesight capture does from the command line', async () => {
    const client = new LiveClient(d.base, { token: d.token, frames: false });
    await client.connected();
    const notices: any[] = [];
    client.socket.on('dataset', (n) => notices.push(n));
    const answer: any = await client.socket.timeout(20_000).emitWithAck('capture', { label: 'socket', count: 2 });
    assert.equal(answer.samples.length, 2);
    assert.ok(notices.some((n) => n.type === 'sample' && n.sample.label === 'socket'));
    const refused: any = await client.socket.timeout(5000).emitWithAck('capture', { label: '../up' });
    assert.equal(refused.status, 400);
    assert.match(refused.error, /"\.\.\/up" must not contain a path separator/);
    client.close();

    const code = await captureMain(['--to', d.base, '--token', d.token, '--label', 'cli', '--count', '2']);
    assert.equal(code, 0);
    assert.equal(fs.readdirSync(path.join(d.stateDir, 'dataset', 'cli')).length, 2);
  });

  it('lists counts and pages, serves image and thumbnail, relabels and deletes; paths from the client are checked', async () => {
    const summary = await json(fetch(d.base + '/api/dataset', { headers: d.authHeaders }));
    const timed = summary.labels.find((l: any) => l.label === 'timed');
    assert.equal(timed.count, 3);
    assert.ok(summary.bytes > 0 && summary.capBytes === 1024 * 1048576);
    const page1 = await json(fetch(d.base + '/api/dataset/samples?label=timed&page=1&pageSize=2', { headers: d.authHeaders }));
    assert.equal(page1.total, 3);
    assert.equal(page1.pages, 2);
    assert.equal(page1.items.length, 2);
    const page2 = await json(fetch(d.base + '/api/dataset/samples?label=timed&page=2&pageSize=2', { headers: d.authHeaders }));
    assert.equal(page2.items.length, 1);
    const sample = page2.items[0];
    const full = await fetch(`${d.base}/api/dataset/samples/timed/${sample.name}`, { headers: d.authHeaders });
    assert.equal(full.status, 200);
    assert.deepEqual(Buffer.from(await full.arrayBuffer()), fs.readFileSync(path.join(d.stateDir, 'dataset', 'timed', sample.name)));
    const thumb = await fetch(`${d.base}/api/dataset/samples/timed/${sample.name}/thumb`, { headers: d.authHeaders });
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
    const small = cv.imdecode(Buffer.from(await thumb.arrayBuffer()));
    assert.equal(Math.max(small.cols, small.rows), 160);

    const moved = await fetch(`${d.base}/api/dataset/samples/timed/${sample.name}`, { method: 'PATCH', headers: { ...d.authHeaders, 'Content-Type': 'application/json' }, body: JSON.stringify({ label: 'relabelled' }) });
    assert.equal(moved.status, 200);
    assert.ok(fs.existsSync(path.join(d.stateDir, 'dataset', 'relabelled', sample.name)));
    assert.ok(!fs.existsSync(path.join(d.stateDir, 'dataset', 'timed', sample.name)));
    assert.equal((await fetch(`${d.base}/api/dataset/samples/timed/${sample.name}`, { headers: d.authHeaders })).status, 404);
    const badMove = await fetch(`${d.base}/api/dataset/samples/relabelled/${sample.name}`, { method: 'PATCH', headers: { ...d.authHeaders, 'Content-Type': 'application/json' }, body: JSON.stringify({ label: '../../x' }) });
    assert.equal(badMove.status, 400);
    assert.match(((await badMove.json()) as { error: string }).error, /new label "\.\.\/\.\.\/x" must not contain a path separator/);
    assert.ok(indexLines(d.stateDir).some((l) => l.op === 'move' && l.to === `relabelled/${sample.name}`));

    const del = await fetch(`${d.base}/api/dataset/samples/relabelled/${sample.name}`, { method: 'DELETE', headers: d.authHeaders });
    assert.equal(del.status, 204);
    assert.ok(!fs.existsSync(path.join(d.stateDir, 'dataset', 'relabelled', sample.name)));
    const after = await json(fetch(d.base + '/api/dataset', { headers: d.authHeaders }));
    assert.equal(after.labels.find((l: any) => l.label === 'relabelled'), undefined);

    for (const route of ['/api/dataset/samples/..%2F..%2F/token', '/api/dataset/samples/timed/..%2F..%2Ftoken', '/api/dataset/samples/timed/.hidden.jpg', '/api/dataset/samples?label=..']) {
      const res = await fetch(d.base + route, { headers: d.authHeaders });
      assert.equal(res.status, 400, `${route} answered ${res.status}`);
    }
  });

  it('streams the dataset as a zip holding every sample and the index', async () => {
    const res = await fetch(d.base + '/api/dataset.zip', { headers: d.authHeaders });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.equal(res.headers.get('content-length'), null, 'sent with a length: built before sending');
    const entries = unzipSync(new Uint8Array(await res.arrayBuffer()));
    const listed = (await json(fetch(d.base + '/api/dataset/files', { headers: d.authHeaders }))).files as Array<{ path: string }>;
    assert.ok(listed.length >= 9);
    assert.deepEqual(Object.keys(entries).filter((n) => n !== 'index.jsonl').sort(), listed.map((f) => f.path).sort());
    for (const f of listed) assert.deepEqual(Buffer.from(entries[f.path]), fs.readFileSync(path.join(d.stateDir, 'dataset', f.path)), f.path);
    assert.ok(Buffer.from(entries['index.jsonl']).toString().split('\n').length > listed.length);
  });

  it('dataset pull writes the flow_from_directory layout and fetches nothing new the second time', async () => {
    const out = tempDir('edgesight-pull-');
    const remote = { base: d.base, headers: d.authHeaders };
    const listed = (await json(fetch(d.base + '/api/dataset/files', { headers: d.authHeaders }))).files as Array<{ path: string }>;
    const first = await pullDataset(remote, out);
    assert.equal(first.fetched, listed.length + 1, 'every sample and the index');
    for (const f of listed) assert.deepEqual(fs.readFileSync(path.join(out, f.path)), fs.readFileSync(path.join(d.stateDir, 'dataset', f.path)));
    const second = await pullDataset(remote, out);
    assert.equal(second.fetched, 0);
    assert.equal(second.skipped, listed.length);
    // A sample deleted on the device goes from the copy too; a new one comes.
    const gone = listed.find((f) => f.path.startsWith('cli/'))!;
    const [label, name] = gone.path.split('/');
    assert.equal((await fetch(`${d.base}/api/dataset/samples/${label}/${name}`, { method: 'DELETE', headers: d.authHeaders })).status, 204);
    assert.equal((await post(d, '/api/dataset/samples', { label: 'later' })).status, 201);
    const third = await pullDataset(remote, out);
    assert.equal(third.fetched, 2, 'the new sample and the grown index');
    assert.equal(third.removed, 1);
    assert.ok(!fs.existsSync(path.join(out, gone.path)));
  });
});

describe('dataset under other settings: cap, big zip, hard examples (real daemon on a real clip)', function () {
  this.timeout(120_000);
  let d: TestDaemon | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
  });

  it('downscales to dataset.maxSide; at dataset.maxMB capture stops with 507, a notice and a log line, and the stream goes on', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    d = await startTestDaemon({ 'dataset.maxSide': 320, 'dataset.maxMB': 0.1 }, log);
    await waitUntil('first classified frame', () => d!.daemon.pipeline?.latest);
    const viewer = new LiveClient(d.base, { token: d.token });
    await viewer.connected();
    const notices: any[] = [];
    viewer.socket.on('dataset', (n) => notices.push(n));
    const { status, body } = await post(d, '/api/dataset/samples', { label: 'full', count: 100 });
    assert.equal(status, 507, JSON.stringify(body).slice(0, 300));
    assert.match(body.error, /dataset is full: .* MB used of the 0\.10 MB cap \(dataset\.maxMB\)/);
    assert.ok(body.samples.length >= 1 && body.samples.length < 100, `${body.samples.length} saved`);
    const dir = path.join(d.stateDir, 'dataset');
    const used = fs.readdirSync(path.join(dir, 'full')).reduce((n, f) => n + fs.statSync(path.join(dir, 'full', f)).size, 0) + fs.statSync(path.join(dir, 'index.jsonl')).size;
    assert.ok(used <= 0.1 * 1048576, `${used} bytes on disk, over the cap`);
    const sample = cv.imread(path.join(dir, 'full', body.samples[0].name));
    assert.deepEqual([sample.cols, sample.rows], [320, 240]);
    await waitUntil('the full notice', () => notices.find((n) => n.type === 'full'));
    assert.ok(lines.some((l) => /dataset capture stopped: dataset is full/.test(l)), 'no log line');
    const again = await post(d, '/api/dataset/samples', { label: 'full' });
    assert.equal(again.status, 507);
    assert.match(again.body.error, /capture refused: dataset is full/);
    const summary = await json(fetch(d.base + '/api/dataset', { headers: d.authHeaders }));
    assert.match(summary.full, /dataset is full/);
    // The stream goes on.
    const seen = viewer.frames.length;
    const seq = d.daemon.pipeline!.latest!.seq;
    await waitUntil('frames after the cap', () => viewer.frames.length >= seen + 10 && d!.daemon.pipeline!.latest!.seq > seq + 10);
    viewer.close();
    // Room made by a delete lets capture go on.
    for (const s of body.samples.slice(0, 2)) await fetch(`${d.base}/api/dataset/samples/full/${s.name}`, { method: 'DELETE', headers: d.authHeaders });
    assert.equal((await post(d, '/api/dataset/samples', { label: 'full' })).status, 201);
  });

  it('refuses capture when the disk would keep less than dataset.minFreeMB free (507 naming the key), and the stream goes on', async () => {
    d = await startTestDaemon({ 'dataset.minFreeMB': 1048576 });
    await waitUntil('first classified frame', () => d!.daemon.pipeline?.latest);
    const { status, body } = await post(d, '/api/dataset/samples', { label: 'disk' });
    assert.equal(status, 507);
    assert.match(body.error, /^capture refused: disk nearly full: [\d.]+ MB free on .*dataset, capture keeps 1048576 MB free \(dataset\.minFreeMB\)$/);
    assert.equal(fs.existsSync(path.join(d.stateDir, 'dataset', 'disk')), false);
    const seq = d.daemon.pipeline!.latest!.seq;
    await waitUntil('frames after the refusal', () => d!.daemon.pipeline!.latest!.seq > seq + 5);
  });

  it('streams a 120 MB dataset as a zip without holding it: memory stays flat while the client reads slowly', async () => {
    const stateDir = tempDir('edgesight-state-');
    const big = path.join(stateDir, 'dataset', 'big');
    fs.mkdirSync(big, { recursive: true });
    const chunk = Buffer.alloc(1048576, 7);
    for (let i = 0; i < 120; i++) fs.writeFileSync(path.join(big, `sample-${String(i).padStart(3, '0')}.jpg`), chunk);
    d = await startTestDaemon({ 'state.dir': stateDir, 'dataset.maxMB': 1024 });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let bytes = 0;
    let tail = Buffer.alloc(0);
    let peak = 0;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(d!.base + '/api/dataset.zip', { headers: d!.authHeaders }, (res) => {
        assert.equal(res.statusCode, 200);
        // Read nothing for a second: a zip built in memory would be all there by now.
        res.pause();
        setTimeout(() => {
          peak = Math.max(peak, process.memoryUsage().rss - rssBefore);
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            tail = Buffer.concat([tail, c]).subarray(-22);
            if (bytes % (8 * 1048576) < c.length) peak = Math.max(peak, process.memoryUsage().rss - rssBefore);
          });
          res.on('end', () => resolve());
          res.resume();
        }, 1000);
      });
      req.on('error', reject);
    });
    console.log(`      zip of ${(bytes / 1048576).toFixed(1)} MB streamed; RSS grew at most ${(peak / 1048576).toFixed(1)} MB`);
    assert.ok(bytes > 120 * 1048576);
    assert.equal(tail.readUInt32LE(0), 0x06054b50, 'no end of central directory');
    assert.equal(tail.readUInt16LE(10), 120, 'entries in the zip');
    assert.ok(peak < 60 * 1048576, `RSS grew ${(peak / 1048576).toFixed(1)} MB while streaming a 120 MB zip`);
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('keeps a hard example where the smoothed label changes (dataset.hardExamplesOnFlip)', async () => {
    // Threshold 0: no frame is unsure, so only label changes count (the clip changes digit every 0.5 s).
    d = await startTestDaemon({ 'dataset.hardExamples': true, 'dataset.hardExamplesThreshold': 0, 'dataset.hardExamplesEverySeconds': 0.1, 'decision.smoothing': 'vote' });
    await waitUntil('two hard examples', () => {
      const dir = path.join(d!.stateDir, 'dataset', '_unlabelled');
      return fs.existsSync(dir) && fs.readdirSync(dir).length >= 2;
    });
    await sleep(200);
    const hard = indexLines(d.stateDir).filter((l) => l.kind === 'hard');
    assert.ok(hard.length >= 2);
    const seqs = new Set(hard.map((l) => l.seq));
    for (const line of hard) {
      assert.match(line.reason, /^label changed to /);
      assert.equal(line.reason, `label changed to ${line.prediction.label}`);
    }
    // Each kept frame is one where the decision differs from the frame before it.
    const results = new Map<number, string>();
    d.daemon.pipeline!.events.on('result', (r) => results.set(r.seq, r.decision.label));
    const before = hard.length;
    await waitUntil('more hard examples', () => indexLines(d!.stateDir).filter((l) => l.kind === 'hard').length >= before + 2);
    await sleep(200);
    const later = indexLines(d.stateDir).filter((l) => l.kind === 'hard' && !seqs.has(l.seq));
    let compared = 0;
    for (const line of later) {
      const previous = [...results.keys()].filter((seq) => seq < line.seq).sort((a, b) => b - a)[0];
      if (previous === undefined) continue;
      compared++;
      assert.notEqual(results.get(previous), line.prediction.label, `frame ${line.seq} kept though its label ${line.prediction.label} did not change`);
    }
    assert.ok(compared >= 1, 'no hard example could be checked against the frame before it');
  });

  it('keeps hard examples in _unlabelled at most one per dataset.hardExamplesEverySeconds, and they can be labelled', async () => {
    d = await startTestDaemon({ 'dataset.hardExamples': true, 'dataset.hardExamplesThreshold': 1, 'dataset.hardExamplesEverySeconds': 0.5 });
    await waitUntil('first classified frame', () => d!.daemon.pipeline?.latest);
    const started = Date.now();
    await sleep(3000);
    const dir = path.join(d.stateDir, 'dataset', '_unlabelled');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jpg'));
    const elapsed = (Date.now() - started) / 1000;
    assert.ok(files.length >= 3, `${files.length} hard examples in ${elapsed} s`);
    assert.ok(files.length <= Math.ceil(elapsed / 0.5) + 1, `${files.length} hard examples in ${elapsed} s: rate limit not kept`);
    const line = indexLines(d.stateDir).find((l) => l.file === `_unlabelled/${files[0]}`)!;
    assert.equal(line.kind, 'hard');
    assert.match(line.reason, /^confidence 0\.\d+ under 1$/);
    const page = await json(fetch(d.base + '/api/dataset/samples?label=_unlabelled', { headers: d.authHeaders }));
    assert.ok(page.total >= 3);
    const res = await fetch(`${d.base}/api/dataset/samples/_unlabelled/${files[0]}`, { method: 'PATCH', headers: { ...d.authHeaders, 'Content-Type': 'application/json' }, body: JSON.stringify({ label: clipTruth(line.seq) }) });
    assert.equal(res.status, 200);
    assert.ok(fs.existsSync(path.join(d.stateDir, 'dataset', clipTruth(line.seq), files[0])));
    const listed = (await json(fetch(d.base + '/api/dataset/files', { headers: d.authHeaders }))).files as Array<{ path: string }>;
    assert.ok(listed.every((f) => !f.path.startsWith('_unlabelled/')), 'unlabelled samples listed for pull without ?unlabelled=1');
  });
});
