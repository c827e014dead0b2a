import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { mjpegAviChunks, readMjpegAvi } from '../../src/events/avi';
import { cv } from '../../src/vision/cv';
import { json, waitUntil, type TestDaemon } from '../helpers/daemon';
import { tempDir } from '../helpers/fixtures';
import { startEventsDaemon } from '../helpers/mosquitto';

function framesIn(file: string): { count: number; width: number; height: number; fps: number } {
  const cap = new cv.VideoCapture(file);
  let count = 0;
  let width = 0;
  let height = 0;
  const fps = cap.get(cv.CAP_PROP_FPS);
  for (;;) {
    const m = cap.read();
    if (m.empty) break;
    count++;
    width = m.cols;
    height = m.rows;
  }
  cap.release();
  return { count, width, height, fps };
}

/** Counts the parts of a multipart response (to its end). */
function multipartParts(url: string, headers: Record<string, string>): Promise<{ type: string; parts: number }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ type: String(res.headers['content-type']), parts: text.split('Content-Type: image/jpeg').length - 1 }));
    }).on('error', reject);
  });
}

describe('event clips', function () {
  this.timeout(60_000);

  it('the AVI writer makes MJPEG that OpenCV (and ffprobe) read back frame for frame, and readMjpegAvi returns the same JPEGs', () => {
    const jpegs = [0, 60, 120, 180, 240].map((v) => cv.imencode('.jpg', new cv.Mat(240, 320, cv.CV_8UC3, [v, 255 - v, 128])));
    const file = path.join(tempDir(), 'clip.avi');
    fs.writeFileSync(file, Buffer.concat(mjpegAviChunks(jpegs, 320, 240, 5)));
    assert.deepEqual(framesIn(file), { count: 5, width: 320, height: 240, fps: 5 });
    const back = readMjpegAvi(fs.readFileSync(file));
    assert.equal(back.fps, 5);
    assert.deepEqual(back.frames.map((b) => Buffer.from(b)), jpegs);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,nb_frames', '-of', 'csv=p=0', file], { encoding: 'utf8' });
    assert.equal(probe.status, 0, probe.error?.message ?? probe.stderr);
    assert.equal(probe.stdout.trim(), 'mjpeg,5');
  });

  describe('in the daemon (30 fps clip, events.clips on)', () => {
    let d: TestDaemon | undefined;
    afterEach(async () => {
      await d?.stop();
      d = undefined;
    });

    it('each event gets a clip from preSeconds before to postSeconds after, served as AVI and as a playable multipart stream; the ring stays bounded', async () => {
      d = await startEventsDaemon({ 'events.clips': true, 'events.preSeconds': 0.5, 'events.postSeconds': 0.5, 'events.clipFps': 10 });
      // An event that started once the ring had had time to fill (the first ones of a run have less before them).
      const ringFullFrom = Date.now() + 1500;
      const withClip = await waitUntil(
        'an event with a clip',
        async () => (await json(fetch(`${d!.base}/api/events?limit=50`, { headers: d!.authHeaders }))).items.find((r: { clip?: unknown; start: number }) => r.clip && r.start > ringFullFrom),
        20_000,
      );
      const lengthS = (withClip.end - withClip.start) / 1000;
      assert.ok(withClip.clip.seconds >= lengthS + 0.5 + 0.5 - 0.25, `clip ${withClip.clip.seconds} s for an event of ${lengthS} s with 0.5 s before and after (${JSON.stringify(withClip)})`);
      assert.ok(withClip.clip.seconds <= lengthS + 0.5 + 0.5 + 1.5, `clip ${withClip.clip.seconds} s is too long`);
      const res = await fetch(`${d.base}/api/events/${withClip.id}/clip.avi`, { headers: d.authHeaders });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'video/x-msvideo');
      const file = path.join(tempDir(), 'got.avi');
      fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      const read = framesIn(file);
      assert.equal(read.count, withClip.clip.frames);
      assert.deepEqual([read.width, read.height], [640, 480]);
      const played = await multipartParts(`${d.base}/api/events/${withClip.id}/clip.mjpg`, d.authHeaders);
      assert.match(played.type, /^multipart\/x-mixed-replace/);
      assert.equal(played.parts, withClip.clip.frames);
      const status = await json(fetch(`${d.base}/api/status`, { headers: d.authHeaders }));
      const clips = status.integrations.events.clips;
      // The ring keeps (pre + minSeconds + 1 s slack) at clipFps: 1.7 s x 10.
      assert.ok(clips.ringFrames <= 18, `ring holds ${clips.ringFrames} frames`);
      // Deleting the event takes its clip.
      await fetch(`${d.base}/api/events/${withClip.id}`, { method: 'DELETE', headers: d.authHeaders });
      assert.equal(fs.existsSync(path.join(d.stateDir, 'events', `${withClip.id}.avi`)), false);
    });
  });
});
