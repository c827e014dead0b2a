import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliPath, tempDir, writePaperDigitClip } from '../helpers/fixtures';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Starts `edgesight run` and collects its JSON log lines from stderr. */
function startDaemon(args: string[]): { child: ChildProcess; lines: LogLine[]; waitFor(pred: (l: LogLine) => boolean, ms: number): Promise<LogLine> } {
  const child = spawn(process.execPath, [cliPath, 'run', '--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${tempDir('edgesight-state-')}`, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', EDGESIGHT_CONFIG_SEARCH: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  let buffer = '';
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text);
      } catch {
        line = { level: 50, msg: text };
      }
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const waitFor = (pred: (l: LogLine) => boolean, ms: number) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = lines.find(pred);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`timed out; log so far:\n${lines.map((l) => l.msg).join('\n')}`)), ms);
      waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  return { child, lines, waitFor };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, ms: Date.now() - started })));
}

describe('edgesight run (end to end)', function () {
  this.timeout(180_000);

  it('starts on the built-in default (no camera here: the demo) and classifies it', async () => {
    const daemon = startDaemon(['--set', 'pipeline.reportEverySeconds=1']);
    try {
      await daemon.waitFor((l) => /doctor: opencv\s+ok/.test(l.msg), 60_000);
      await daemon.waitFor((l) => /model edgesight-digits \S+ loaded: engine \S+.*, TF\.js backend (wasm|tensorflow|cpu)/.test(l.msg), 60_000);
      await daemon.waitFor((l) => /using the built-in demo scene|using camera/.test(l.msg), 60_000);
      // Collect a few seconds of reports and check the label against the demo's truth.
      const reports: LogLine[] = [];
      while (reports.length < 5) reports.push(await daemon.waitFor((l) => typeof l.classified === 'number' && (l.classified as number) > 0 && !reports.includes(l), 30_000));
      const last = reports[reports.length - 1];
      assert.ok((last.fps as number) > 1, `fps ${last.fps}`);
      const agree = reports.filter((r) => r.label === r.truth).length;
      assert.ok(agree >= 3, `label matched truth in ${agree} of ${reports.length} reports: ${reports.map((r) => `${r.label}/${r.truth}`).join(' ')}`);

      // First start: the token is created and the URL to open is printed once, like Jupyter.
      const announce = await daemon.waitFor((l) => /dashboard access token created/.test(l.msg), 5000);
      const url = /(http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]+)/.exec(announce.msg);
      assert.ok(url, announce.msg);
      const signIn = await fetch(`${url[1]}?token=${url[2]}`, { redirect: 'manual' });
      assert.equal(signIn.status, 303);
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0];
      const status = await fetch(`${url[1]}api/status`, { headers: { Cookie: cookie } });
      assert.equal(status.status, 200);
      assert.match(((await status.json()) as { source: { description: string } }).source.description, /demo/);
      // A viewer still attached must not hold up the shutdown below.
      const stream = await fetch(`${url[1]}stream.mjpg`, { headers: { Cookie: cookie } });
      assert.equal(stream.status, 200);
      void stream.body?.getReader().read();
    } finally {
      const exit = exitOf(daemon.child);
      daemon.child.kill('SIGTERM');
      const { code, ms } = await exit;
      assert.equal(code, 0);
      assert.ok(ms < 5000, `stopped in ${ms} ms`);
      assert.ok(daemon.lines.some((l) => l.msg === 'stopped'));
    }
  });

  it('runs a video file given as a bare --source', async () => {
    const clip = path.join(tempDir(), 'clip.avi');
    writePaperDigitClip(clip, { digits: 4, framesPerDigit: 10 });
    const daemon = startDaemon(['--source', clip, '--set', 'pipeline.reportEverySeconds=1']);
    try {
      const line = await daemon.waitFor((l) => typeof l.source === 'string' && /^file .*clip\.avi/.test(l.source as string), 60_000);
      assert.match(line.source as string, /MJPG 640x480/);
      await daemon.waitFor((l) => typeof l.classified === 'number' && (l.classified as number) > 10, 30_000);
    } finally {
      daemon.child.kill('SIGTERM');
      await exitOf(daemon.child);
    }
  });

  it('shows the token in the log on the first start only', async () => {
    const stateDir = tempDir('edgesight-state-');
    const clip = path.join(stateDir, 'clip.avi');
    writePaperDigitClip(clip, { digits: 2, framesPerDigit: 10 });
    const logs: string[] = [];
    for (let start = 0; start < 2; start++) {
      const daemon = startDaemon(['--source', clip, '--set', `state.dir=${stateDir}`]);
      await daemon.waitFor((l) => /^dashboard (access token created|at )/.test(l.msg), 60_000);
      const exit = exitOf(daemon.child);
      daemon.child.kill('SIGTERM');
      await exit;
      logs.push(daemon.lines.map((l) => JSON.stringify(l)).join('\n'));
    }
    const token = fs.readFileSync(path.join(stateDir, 'token'), 'utf8').trim();
    assert.ok(logs[0].includes(`?token=${token}`), 'first start: the URL with the token is logged');
    assert.ok(!logs[1].includes(token), 'second start: the token appears in the log');
    assert.match(logs[1], /token in .*token; 'edgesight token' prints it/);
  });

  it('fails clearly on a source that cannot open', async () => {
    const daemon = startDaemon(['--source', '/dev/video77']);
    const { code } = await exitOf(daemon.child);
    assert.equal(code, 4);
    const last = daemon.lines[daemon.lines.length - 1];
    assert.match(last.msg, /^edgesight: cannot (open|read from) camera \/dev\/video77.*tried OpenCV V4L2/);
  });
});
