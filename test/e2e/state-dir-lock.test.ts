import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir, writePaperDigitClip } from '../helpers/fixtures';
import { spawnDaemon, type SpawnedDaemon } from '../helpers/spawned-daemon';

/** The dashboard's port, from the log line that announces its URL. */
async function dashboardPort(daemon: SpawnedDaemon): Promise<number> {
  const line = await daemon.waitForLine(/dashboard (access token created|at ).*http:\/\/127\.0\.0\.1:\d+\//, 120_000);
  return Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(line)![1]);
}

describe('one daemon per state directory', function () {
  this.timeout(240_000);
  let clip: string;
  before(() => {
    clip = path.join(tempDir(), 'clip.avi');
    writePaperDigitClip(clip, { digits: 2, framesPerDigit: 10 });
  });

  it('refuses a second run on the same state directory with one line and exit 5, leaving the first untouched', async () => {
    const stateDir = tempDir('edgesight-state-');
    const first = spawnDaemon(['--source', clip, '--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${stateDir}`]);
    try {
      const port = await dashboardPort(first);
      // A model upload in progress: the second start must not clear the staging area.
      const marker = path.join(stateDir, 'incoming', 'upload-in-progress');
      fs.mkdirSync(path.dirname(marker), { recursive: true });
      fs.writeFileSync(marker, 'half a model');

      // The same port too, so that without the lock the second gets as far as the server.
      const second = spawnDaemon(['--source', clip, '--host', '127.0.0.1', '--port', String(port), '--set', `state.dir=${stateDir}`]);
      const code = await second.exited;
      assert.equal(code, 5, second.lines.join('\n'));
      assert.deepEqual(second.lines, [`edgesight: state.dir: ${stateDir} is in use by another edgesight (pid ${first.child.pid}); stop it first or give this one another state.dir`]);

      assert.equal(fs.readFileSync(marker, 'utf8'), 'half a model');
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
    } finally {
      assert.equal(await first.stop(), 0);
    }
  });

  it('holds STATE/daemon.lock naming its pid while running and removes it on stop', async () => {
    const stateDir = tempDir('edgesight-state-');
    const lock = path.join(stateDir, 'daemon.lock');
    const daemon = spawnDaemon(['--source', clip, '--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${stateDir}`]);
    try {
      await dashboardPort(daemon);
      assert.equal(JSON.parse(fs.readFileSync(lock, 'utf8')).pid, daemon.child.pid);
    } finally {
      assert.equal(await daemon.stop(), 0);
    }
    assert.ok(!fs.existsSync(lock), 'the lock is left behind after a clean stop');
  });

  it('takes over a stale lock whose holder is gone, saying so in the log', async () => {
    const stateDir = tempDir('edgesight-state-');
    // A pid above the kernel's pid_max (at most 2^22) names no process.
    fs.writeFileSync(path.join(stateDir, 'daemon.lock'), JSON.stringify({ pid: 2 ** 22 + 1 }) + '\n');
    const daemon = spawnDaemon(['--source', clip, '--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${stateDir}`]);
    try {
      await daemon.waitForLine(/took over .*daemon\.lock from pid 4194305, which is no longer running/, 60_000);
      await dashboardPort(daemon);
      assert.equal(JSON.parse(fs.readFileSync(path.join(stateDir, 'daemon.lock'), 'utf8')).pid, daemon.child.pid);
    } finally {
      assert.equal(await daemon.stop(), 0);
    }
  });
});
