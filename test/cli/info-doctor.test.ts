import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cliPath, defaultModelDir, runCli, teachableMachineFixture, tempDir } from '../helpers/fixtures';
import { formatReport, type DoctorReport } from '../../src/daemon/doctor';
import { MemoryCgroup } from '../helpers/memory-cgroup';

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

  it('doctor run under a memory limit reports it, with what the model needs at start-up and on a hot-swap', async function () {
    const limit = 700 * 1048576;
    const group = MemoryCgroup.create(`edgesight-test-${process.pid}-doctor`, limit);
    if ('unavailable' in group) {
      console.log(`      skipped: needs a memory cgroup to run doctor under a real limit: ${group.unavailable}`);
      return this.skip();
    }
    try {
      // The shell moves itself into the cgroup, then becomes the CLI: doctor reads its own limit.
      const script = `echo $$ > ${group.procsFile} && exec "$0" "$@"`;
      const run = (extra: string[]) => spawnSync('sh', ['-c', script, process.execPath, cliPath, 'doctor', ...extra], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', EDGESIGHT_CONFIG_SEARCH: '' }, timeout: 240_000 });
      const text = run([]);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^memory   ok   limit 700 MB \\(this process, ${group.dir}/memory\\.limit_in_bytes\\); this model's 0\\.\\d MB of weights: about \\d+ MB at start-up, and a hot-swap to it about \\d+ MB over`, 'm'));
      const json = JSON.parse(run(['--json']).stdout);
      assert.deepEqual(json.memory.limit, { mb: 700, file: `${group.dir}/memory.limit_in_bytes`, whose: 'this process' });
      assert.ok(json.memory.model.startPeakMB > 170 && json.memory.model.startPeakMB < 700, `start-up estimate ${json.memory.model.startPeakMB} MB`);
    } finally {
      await group.remove();
    }
  });

  it('doctor says FAIL on memory, with the fix, when the model needs more at start-up than the limit', () => {
    const report: DoctorReport = {
      node: 'v20',
      opencv: { ok: true, version: '4.6.0', videoBackends: {} },
      tfjs: { ok: true, backend: 'wasm', version: '4' },
      cameras: [],
      model: { ok: true, path: '/models/cats', name: 'cats', labels: 2, input: '150x150x3', engine: 'opencv' },
      memory: { limit: { mb: 1024, file: '/sys/fs/cgroup/system.slice/edgesight.service/memory.max', whose: 'the running edgesight service' }, model: { weightMB: 162, startPeakMB: 1623, swapOverRssMB: 1480 } },
      source: 'auto',
    };
    const line = formatReport(report).split('\n').find((l) => l.startsWith('memory'));
    assert.equal(
      line,
      "memory   FAIL limit 1024 MB (the running edgesight service, /sys/fs/cgroup/system.slice/edgesight.service/memory.max); this model's 162 MB of weights: about 1623 MB at start-up, and a hot-swap to it about 1480 MB over the daemon's memory of that moment: over the limit, the daemon will refuse it at start; raise it with `sudo systemctl edit edgesight` ([Service] MemoryMax=) or use a smaller model",
    );
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
