import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { json, startTestDaemon, waitUntil, sleep, type TestDaemon } from '../helpers/daemon';
import { defaultModelDir, runCliAsync, tempDir } from '../helpers/fixtures';
import { LiveClient } from '../helpers/live-client';

/**
 * The loop a user runs, end to end, with every part real: the daemon on 127.0.0.1 with the demo
 * scene standing in for a camera, capture through POST /api/dataset/samples, `edgesight dataset
 * pull`, `edgesight train --base`, `edgesight deploy`, and the live stream over socket.io.
 *
 * The demo scene knows the digit it draws (each frame's `truth`); the daemon writes it into the
 * dataset's index line of every sample, so the test can check each label it gave against the
 * digit that was really on screen, and the live stream carries it beside the prediction.
 */

/** The digits captured and trained. With demo.seed 1 each has shown 4 times by the scene's 38th digit. */
const DIGITS = ['3', '6', '9'];
/** Appearances of each digit captured, and samples per appearance (a burst at the start of it). */
const APPEARANCES = 4;
const BURST = 4;
/**
 * Demo pacing: 15 frames/s, one digit per second, so a digit holds for 15 frames. A burst of 4
 * started on the first frame of a new digit ends 11 frames (0.7 s) before the next digit: the
 * margin that keeps a slow moment on a shared core from labelling a frame with the wrong digit.
 * Samples that do straddle a change are deleted (and counted) as a user would delete them.
 */
const DEMO = { 'demo.fps': 15, 'demo.secondsPerDigit': 1, 'demo.seed': 1 };
/** Live frames whose truth is one of DIGITS judged after the swap (about 8 appearances of 15 frames). */
const JUDGED_FRAMES = 120;
/**
 * Measured (the printed line): 120 of 120 judged frames right on this 2-core machine. Chance
 * among three labels is 33%; 75% leaves a wide margin for a hard handwritten instance or two
 * (each appearance is ~15 frames, so one wholly missed digit costs ~12%) and still fails for a
 * model that learned nothing or mixed up its labels.
 */
const MIN_ACCURACY = 0.75;

interface IndexLine {
  file: string;
  label: string;
  truth?: string;
  seq: number;
  op?: string;
}

describe('round trip: capture on the device, pull, train with a base, deploy, classify the live stream', function () {
  this.timeout(600_000);
  let d: TestDaemon;
  let viewer: LiveClient | undefined;
  const root = tempDir('edgesight-roundtrip-');
  const pulled = path.join(root, 'dataset');
  const trained = path.join(root, 'digits-369');

  before(async () => {
    // Threshold 0: every frame is labelled with the model's top label, never "uncertain", so the
    // label set of the stream is exactly the model's labels.
    d = await startTestDaemon({ source: 'demo', 'decision.threshold': 0, ...DEMO });
    await waitUntil('first classified frame', () => d.daemon.pipeline?.latest, 30_000);
  });
  after(async () => {
    viewer?.close();
    await d?.stop();
  });

  it('captures each digit through the API while the scene shows it; the index says every kept sample shows its label', async () => {
    const post = async (label: string) => {
      const res = await fetch(`${d.base}/api/dataset/samples`, { method: 'POST', headers: { ...d.authHeaders, 'Content-Type': 'application/json' }, body: JSON.stringify({ label, count: BURST }) });
      const body = (await res.json()) as { job: { state: string } };
      assert.equal(res.status, 201, JSON.stringify(body));
      assert.equal(body.job.state, 'done');
      return body;
    };
    const taken = new Map(DIGITS.map((digit) => [digit, 0]));
    const started = Date.now();
    let shown = d.daemon.pipeline!.latest!.truth;
    // Watch the classified frames' truth; the moment a wanted digit comes up, capture a burst of it.
    while ([...taken.values()].some((n) => n < APPEARANCES)) {
      assert.ok(Date.now() - started < 180_000, `after 3 minutes only ${JSON.stringify(Object.fromEntries(taken))} appearances captured`);
      const truth = d.daemon.pipeline!.latest!.truth;
      if (truth !== shown) {
        shown = truth;
        if (truth !== undefined && (taken.get(truth) ?? APPEARANCES) < APPEARANCES) {
          await post(truth);
          taken.set(truth, taken.get(truth)! + 1);
        }
      }
      await sleep(10);
    }
    const captureSeconds = (Date.now() - started) / 1000;

    // The device's own index (through the API) gives each sample's label and the digit on screen.
    const res = await fetch(`${d.base}/api/dataset/index.jsonl`, { headers: d.authHeaders });
    assert.equal(res.status, 200);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as IndexLine);
    assert.equal(lines.length, DIGITS.length * APPEARANCES * BURST);
    const wrong = lines.filter((l) => l.truth !== l.label);
    for (const line of wrong) {
      const del = await fetch(`${d.base}/api/dataset/samples/${line.file}`, { method: 'DELETE', headers: d.authHeaders });
      assert.equal(del.status, 204);
    }
    console.log(`      captured ${lines.length} samples of ${DIGITS.join(', ')} in ${captureSeconds.toFixed(1)} s; ${wrong.length} showed another digit than their label (deleted)`);
    // A straddled burst loses at most a few frames; many means capture takes other frames than it says.
    assert.ok(wrong.length <= lines.length * 0.1, `${wrong.length} of ${lines.length} samples show another digit: ${JSON.stringify(wrong.map((w) => [w.label, w.truth, w.seq]))}`);
    const summary = await json(fetch(`${d.base}/api/dataset`, { headers: d.authHeaders }));
    for (const digit of DIGITS) {
      const count = summary.labels.find((l: { label: string }) => l.label === digit)?.count ?? 0;
      assert.ok(count >= APPEARANCES * BURST * 0.7, `only ${count} samples of ${digit} kept`);
    }
  });

  it('`edgesight dataset pull` copies the samples into the training layout', async () => {
    const run = await runCliAsync(['dataset', 'pull', '--from', d.base, '--out', pulled, '--token', d.token]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(fs.readdirSync(pulled).filter((f) => f !== 'index.jsonl' && !f.startsWith('.')).sort(), DIGITS);
    // Every pulled file is a sample whose frame showed its folder's digit.
    const lines = fs.readFileSync(path.join(pulled, 'index.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as IndexLine);
    for (const digit of DIGITS) {
      for (const name of fs.readdirSync(path.join(pulled, digit))) {
        const line = lines.find((l) => !l.op && l.file === `${digit}/${name}`);
        assert.ok(line, `no index line for ${digit}/${name}`);
        assert.equal(line.truth, digit, `${digit}/${name} shows ${line.truth}`);
      }
    }
  });

  it('`edgesight train --base models/default` (cut before its last Dense) trains on the pulled samples in under two minutes', async () => {
    const started = Date.now();
    const run = await runCliAsync(['train', '--data', pulled, '--out', trained, '--base', defaultModelDir, '--base-layer', 'dense_Dense1', '--epochs', '40', '--batch-size', '16', '--seed', '1'], {}, 240_000);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /frozen up to layer 'dense_Dense1'/);
    const accuracy = /^accuracy (\S+)/m.exec(run.stderr)?.[1];
    console.log(`      train: ${seconds.toFixed(1)} s wall (process start to package written), validation accuracy ${accuracy}`);
    assert.ok(seconds < 120, `training took ${seconds.toFixed(1)} s`);
    const meta = JSON.parse(fs.readFileSync(path.join(trained, 'metadata.json'), 'utf8'));
    assert.deepEqual(meta.labels, DIGITS);
    assert.equal(meta.training.transfer.base, path.resolve(defaultModelDir));
  });

  it('`edgesight deploy` swaps it in: /api/model shows it, and the live stream is classified with its labels, well above chance', async () => {
    viewer = new LiveClient(d.base, { token: d.token });
    await viewer.connected();
    await waitUntil('frames from the old model', () => viewer!.frames.length >= 5, 30_000);
    const before = viewer.hello?.model as { labels: string[] } | undefined;
    assert.equal(before?.labels.length, 10, 'before the deploy the shipped ten-label model serves');

    const run = await runCliAsync(['deploy', trained, '--to', d.base, '--token', d.token], {}, 240_000);
    assert.equal(run.code, 0, run.stderr);
    const model = await json(fetch(`${d.base}/api/model`, { headers: d.authHeaders }));
    const meta = JSON.parse(fs.readFileSync(path.join(trained, 'metadata.json'), 'utf8'));
    assert.deepEqual(model.labels, DIGITS);
    assert.equal(model.name, meta.name);
    assert.equal(model.version, meta.version);

    // The swap happens between two frames; a frame classified just before it may still be on its
    // way to the viewer, so the first two received after the deploy answered are not judged.
    const from = viewer.frames.length + 2;
    const judged = () => viewer!.frames.slice(from).filter((f) => f.meta.truth !== undefined && DIGITS.includes(f.meta.truth));
    await waitUntil(`${JUDGED_FRAMES} live frames showing ${DIGITS.join(', ')}`, () => judged().length >= JUDGED_FRAMES, 120_000);
    const frames = viewer.frames.slice(from);
    const foreign = frames.filter((f) => !DIGITS.includes(f.meta.label));
    assert.deepEqual(foreign.map((f) => f.meta.label), [], 'frames labelled outside the new model\'s labels');
    const right = judged().filter((f) => f.meta.label === f.meta.truth).length;
    const accuracy = right / judged().length;
    const perDigit = DIGITS.map((digit) => {
      const of = judged().filter((f) => f.meta.truth === digit);
      return `${digit}: ${of.filter((f) => f.meta.label === digit).length}/${of.length}`;
    });
    console.log(`      live stream after the deploy: ${frames.length} frames, ${judged().length} showing ${DIGITS.join('/')}, ${(accuracy * 100).toFixed(1)}% right (${perDigit.join(', ')})`);
    assert.ok(accuracy >= MIN_ACCURACY, `${(accuracy * 100).toFixed(1)}% of live frames right (${perDigit.join(', ')}), under ${MIN_ACCURACY * 100}%`);
  });
});
