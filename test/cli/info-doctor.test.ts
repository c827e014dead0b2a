import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cliPath, defaultModelDir, runCli, teachableMachineFixture, tempDir } from '../helpers/fixtures';

describe('edgesight info and doctor', function () {
  this.timeout(120_000);

  it('info describes the default model', () => {
    const result = runCli(['info', defaultModelDir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /input\s+28x28x1/);
    assert.match(result.stdout, /labels\s+10: "0", "1"/);
    assert.match(result.stdout, /preprocess\s+resize center-crop, grayscale, range \[0, 1\], invert auto, contrast stretch/);
    assert.match(result.stdout, /backend\s+(wasm|tensorflow|cpu)/);
    // auto: converted, checked against TF.js and timed at load, both times shown.
    assert.match(result.stdout, /engine\s+(opencv|tfjs) \(auto: opencv [\d.]+ ms \(default threads\), tfjs [\d.]+ ms per inference; within [\d.e-]+\)/);
  });

  it('info --backend opencv shows the Teachable Machine model on OpenCV DNN, and --backend wasm on TF.js', () => {
    const opencv = runCli(['info', '--backend', 'opencv', '--json', teachableMachineFixture]);
    assert.equal(opencv.code, 0, opencv.stderr);
    assert.match(JSON.parse(opencv.stdout).engine, /^opencv \(default threads; within [\d.e-]+ of TF\.js\)$/);
    const wasm = runCli(['info', '--backend', 'wasm', defaultModelDir]);
    assert.equal(wasm.code, 0, wasm.stderr);
    assert.match(wasm.stdout, /engine\s+tfjs \(model.backend wasm\)/);
  });

  it('info --json describes a Teachable Machine export with its conventions', () => {
    const result = runCli(['info', '--json', teachableMachineFixture]);
    assert.equal(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout);
    assert.deepEqual(info.labels, ['Class 1', 'Class 2']);
    assert.deepEqual(info.input, { height: 224, width: 224, channels: 3 });
    assert.equal(info.conventions, 'teachable-machine');
    assert.deepEqual(info.preprocess.range, [-1, 1]);
  });

  it('info names a directory that is not a package', () => {
    // A fresh empty folder: /tmp itself may hold a stray model file another program left there.
    const empty = tempDir();
    const result = runCli(['info', empty]);
    assert.equal(result.code, 3);
    assert.equal(result.stderr.trim(), `edgesight: model package: ${empty}/model.json: is missing`);
  });

  it('doctor reports OpenCV, the TF.js backend, cameras and the model', () => {
    const result = runCli(['doctor', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.opencv.ok, true);
    assert.match(report.opencv.version, /^4\.\d+\.\d+$/);
    assert.equal(report.opencv.videoBackends.FFMPEG, true);
    assert.ok(['wasm', 'tensorflow'].includes(report.tfjs.backend));
    assert.ok(Array.isArray(report.cameras));
    assert.equal(report.model.ok, true);
    assert.equal(report.model.input, '28x28x1');
    assert.match(report.model.engine, /^(opencv|tfjs) \(auto: /);
    const text = runCli(['doctor'], { EDGESIGHT_MODEL_BACKEND: 'opencv' });
    assert.match(text.stdout, /model\s+ok .*engine opencv \(default threads; within/);
  });

  it('unknown commands and options exit 2 with one line', () => {
    const a = runCli(['fly']);
    assert.equal(a.code, 2);
    assert.match(a.stderr.trim(), /^edgesight: unknown command 'fly'/);
    const b = runCli(['predict', '--jsn', 'x.png']);
    assert.equal(b.code, 2);
    assert.match(b.stderr.trim(), /^edgesight: predict: Unknown option '--jsn'/);
  });
});

describe('edgesight predict into a closed pipe', function () {
  this.timeout(60_000);
  it('stops quietly when the reader (like head) goes away', () => {
    const result = spawnSync('sh', ['-c', `"${process.execPath}" "${cliPath}" predict "${teachableMachineFixture}/samples/Class 1" --model "${teachableMachineFixture}" | head -n 1`], { encoding: 'utf8' });
    assert.equal(result.stdout.trim().split('\n').length, 1);
    assert.doesNotMatch(result.stderr, /EPIPE|Error/);
  });
});
