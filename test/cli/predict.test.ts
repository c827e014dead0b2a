import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { PredictLine } from '../../src/cli/predict';
import { runCli, tempDir, writeMnistPngs, writePaperDigitClip } from '../helpers/fixtures';

type Line = PredictLine;

function parseLines(stdout: string): Line[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

describe('edgesight predict with the default model', function () {
  this.timeout(600_000);
  let dir: string;
  before(() => {
    dir = tempDir();
  });

  it('gets 97% or more of held-out MNIST PNGs (light on dark) right', () => {
    const pngs = writeMnistPngs(path.join(dir, 'pngs'), 60);
    const result = runCli(['predict', '--json', ...pngs.map((p) => p.file)]);
    assert.equal(result.code, 0, result.stderr);
    const lines = parseLines(result.stdout);
    assert.equal(lines.length, pngs.length);
    const truth = new Map(pngs.map((p) => [p.file, p.label]));
    const correct = lines.filter((l) => l.label === truth.get(l.file)).length;
    assert.ok(correct / lines.length >= 0.97, `${correct}/${lines.length}`);
    for (const l of lines) {
      assert.equal(l.frame, undefined);
      assert.equal(l.topk.length, 3);
      assert.equal(l.topk[0].label, l.label);
    }
  });

  it('gets 90% or more of the frames of a 640x480 MJPEG clip of paper digits right, one line per frame', () => {
    const clip = path.join(dir, 'paper.avi');
    const truths = writePaperDigitClip(clip, { digits: 30, framesPerDigit: 5, seed: 21 });
    const result = runCli(['predict', '--json', '--top', '2', clip]);
    assert.equal(result.code, 0, result.stderr);
    const lines = parseLines(result.stdout);
    assert.deepEqual(lines.map((l) => l.frame), truths.map((_, i) => i));
    const correct = lines.filter((l) => l.label === truths[l.frame!]).length;
    assert.ok(correct / lines.length >= 0.9, `${correct}/${lines.length}`);
    assert.ok(lines.every((l) => l.topk.length === 2 && l.smoothed === undefined));
    // Frames go to the model four at a time (150 = 37 x 4 + 2); one at a time gives the same answers.
    const alone = runCli(['predict', '--json', '--top', '2', '--set', 'pipeline.batchSize=1', clip]);
    assert.equal(alone.code, 0, alone.stderr);
    const aloneLines = parseLines(alone.stdout);
    assert.equal(aloneLines.length, lines.length);
    aloneLines.forEach((l, i) => assert.ok(l.label === lines[i].label && Math.abs(l.confidence - lines[i].confidence) < 1e-3, `frame ${i}`));
  });

  it('holds as many tensors after a long run as after a short one on TF.js (--log-level debug totals)', () => {
    const clip = path.join(dir, 'leak.avi');
    writePaperDigitClip(clip, { digits: 10, framesPerDigit: 10, seed: 4 });
    const tensorsAfter = (files: string[]) => {
      // On TF.js, where tensors are made per frame (on OpenCV DNN the process holds none at all).
      const result = runCli(['predict', '--json', '--backend', 'wasm', '--log-level', 'debug', ...files], { EDGESIGHT_LOG_FORMAT: 'json' });
      assert.equal(result.code, 0, result.stderr);
      const done = result.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.msg === 'predict done');
      assert.equal(done.predictions, files.length * 100);
      return done.tensors as number;
    };
    const short = tensorsAfter([clip]);
    assert.ok(short > 0, 'no tensor held: the model is not on TF.js');
    assert.equal(tensorsAfter(Array(10).fill(clip)), short);
  });

  it('puts a smoothed decision in its own field when smoothing is on', () => {
    const clip = path.join(dir, 'short.avi');
    writePaperDigitClip(clip, { digits: 2, framesPerDigit: 4, seed: 3 });
    const result = runCli(['predict', '--json', '--smoothing', 'average', clip]);
    assert.equal(result.code, 0, result.stderr);
    const lines = parseLines(result.stdout);
    assert.equal(lines.length, 8);
    assert.ok(lines.every((l) => l.smoothed && typeof l.smoothed.label === 'string'));
  });

  it('reports unreadable files by name, skips them and exits 1', () => {
    const good = writeMnistPngs(path.join(dir, 'few'), 1)[0].file;
    const broken = path.join(dir, 'broken.png');
    fs.writeFileSync(broken, 'not a png');
    const missing = path.join(dir, 'missing.jpg');
    const result = runCli(['predict', '--json', broken, good, missing]);
    assert.equal(result.code, 1);
    const lines = parseLines(result.stdout);
    assert.deepEqual(lines.map((l) => l.file), [good]);
    assert.match(result.stderr, /broken\.png: not a readable image/);
    assert.match(result.stderr, /missing\.jpg: does not exist/);
  });

  it('prints one readable line per image without --json', () => {
    const [png] = writeMnistPngs(path.join(dir, 'one'), 1);
    const result = runCli(['predict', png.file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout.trim(), /0-0\.png\t\d\t\d+\.\d%/);
  });

  it('refuses a broken model package with the file named, exit 3', () => {
    const model = path.join(dir, 'broken-model');
    fs.mkdirSync(model);
    fs.writeFileSync(path.join(model, 'model.json'), '{');
    const result = runCli(['predict', '--model', model, 'x.png']);
    assert.equal(result.code, 3);
    assert.equal(result.stderr.trim(), `edgesight: model package: ${path.join(model, 'model.json')}: is not valid JSON (${jsonError('{')})`);
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

describe('edgesight predict on an H.264 file made by ffmpeg', function () {
  this.timeout(300_000);

  it('decodes it through OpenCV and FFmpeg and classifies every frame', () => {
    const dir = tempDir();
    const clip = path.join(dir, 'paper.avi');
    const truths = writePaperDigitClip(clip, { digits: 10, framesPerDigit: 4, seed: 8 });
    const mp4 = path.join(dir, 'paper.mp4');
    const ffmpeg = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', clip, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '23', mp4], { encoding: 'utf8' });
    assert.equal(ffmpeg.status, 0, `ffmpeg (installed by scripts/setup.sh --test): ${ffmpeg.error?.message ?? ffmpeg.stderr}`);
    const result = runCli(['predict', '--json', mp4]);
    assert.equal(result.code, 0, result.stderr);
    const lines = parseLines(result.stdout);
    assert.equal(lines.length, truths.length);
    const correct = lines.filter((l) => l.label === truths[l.frame!]).length;
    assert.ok(correct / lines.length >= 0.9, `${correct}/${lines.length}`);
  });
});
