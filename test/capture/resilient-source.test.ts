import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { json, startTestDaemon, waitUntil } from '../helpers/daemon';
import { tempDir, writePaperDigitClip } from '../helpers/fixtures';

describe('daemon with a video file that is removed and restored', function () {
  this.timeout(90_000);
  it('reports reconnecting while the file is gone and resumes when it is back, serving all along', async () => {
    const dir = tempDir();
    const clip = path.join(dir, 'door.avi');
    writePaperDigitClip(clip, { digits: 2, framesPerDigit: 10, fps: 30 });
    const saved = path.join(dir, 'door.saved');
    fs.copyFileSync(clip, saved);
    const d = await startTestDaemon({ source: clip });
    try {
      await waitUntil('frames', () => (d.daemon.pipeline?.stats.classified ?? 0) > 10);
      fs.unlinkSync(clip);
      const gone = await waitUntil('reconnecting status', async () => {
        const status = await json(fetch(d.base + '/api/status', { headers: d.authHeaders }));
        return status.source.state === 'reconnecting' ? status : undefined;
      }, 15_000);
      assert.ok(gone.source.attempt >= 1);
      assert.match(gone.source.error, /door\.avi/);
      fs.copyFileSync(saved, clip);
      await waitUntil('open again', async () => (await json(fetch(d.base + '/api/status', { headers: d.authHeaders }))).source.state === 'open', 30_000);
      const before = d.daemon.pipeline!.stats.classified;
      await waitUntil('frames again', () => d.daemon.pipeline!.stats.classified > before + 10);
    } finally {
      await d.stop();
    }
  });
});

describe('a camera that is not there at start', function () {
  this.timeout(60_000);
  it('with capture.retryAtStart the daemon serves, reports reconnecting instead of exiting, and still stops at once', async () => {
    const d = await startTestDaemon({ source: '/dev/video77', 'capture.retryAtStart': true });
    try {
      const status = await waitUntil('reconnecting', async () => {
        const s = await json(fetch(d.base + '/api/status', { headers: d.authHeaders }));
        // A loaded machine may first report the open still running (after 2 s): wait for the attempt that failed.
        return s.source.state === 'reconnecting' && !/still opening/.test(s.source.error) ? s : undefined;
      });
      assert.match(status.source.description, /camera \/dev\/video77/);
      assert.match(status.source.error, /cannot (open|read from) camera \/dev\/video77/);
      assert.equal((await fetch(d.base + '/healthz')).status, 503);
      // Stopping while the source waits out a back-off must not wait for it.
      await waitUntil('a longer back-off', async () => (await json(fetch(d.base + '/api/status', { headers: d.authHeaders }))).source.attempt >= 2);
      const stopping = Date.now();
      await d.stop();
      assert.ok(Date.now() - stopping < 3000, `stop took ${Date.now() - stopping} ms`);
    } finally {
      await d.stop();
    }
  });
});
