import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { listCameras } from '../../src/capture/cameras';
import { DemoSource } from '../../src/capture/demo-source';
import { ImagesSource } from '../../src/capture/images-source';
import { OpenCvSource, redactUrl } from '../../src/capture/opencv-source';
import { buildSource, parseSourceSpec } from '../../src/capture/select-source';
import { WebcamSource } from '../../src/capture/webcam-source';
import { loadConfig } from '../../src/config/load';
import { SourceError } from '../../src/util/errors';
import { silentLogger } from '../../src/util/logger';
import { loadMnistSplit } from '../../src/demo/mnist-digits';
import { cv } from '../../src/vision/cv';
import { PaperDigitScene } from '../../src/demo/digit-scene';
import { tempDir, writePaperDigitClip } from '../helpers/fixtures';

describe('frame sources', () => {
  let clip: string;
  let truths: string[];
  before(() => {
    clip = path.join(tempDir(), 'digits.avi');
    truths = writePaperDigitClip(clip, { digits: 3, framesPerDigit: 4 });
  });

  describe('parseSourceSpec', () => {
    it('infers the kind of a bare source', () => {
      assert.deepEqual(parseSourceSpec('demo'), { kind: 'demo' });
      assert.deepEqual(parseSourceSpec('auto'), { kind: 'auto' });
      assert.deepEqual(parseSourceSpec('/dev/video0'), { kind: 'camera', target: '/dev/video0' });
      assert.deepEqual(parseSourceSpec('2'), { kind: 'camera', target: '2' });
      assert.deepEqual(parseSourceSpec('rtsp://cam.local/stream'), { kind: 'url', target: 'rtsp://cam.local/stream' });
      assert.equal(parseSourceSpec('videotestsrc ! videoconvert ! appsink').kind, 'gstreamer');
      assert.deepEqual(parseSourceSpec(clip), { kind: 'file', target: clip });
      assert.deepEqual(parseSourceSpec(path.dirname(clip)), { kind: 'images', target: path.dirname(clip) });
    });

    it('names a source that is nothing it knows', () => {
      assert.throws(() => parseSourceSpec('/no/such/clip.mp4'), (e: unknown) => e instanceof SourceError && /source '\/no\/such\/clip\.mp4' is not a kind/.test(e.message));
    });
  });

  it('reads every frame of a real MJPEG clip through OpenCV, then ends', async () => {
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: false, realtime: false });
    await source.open();
    assert.match(source.description, /file .*digits\.avi \(.*MJPG 640x480 @15\)/);
    assert.equal(source.paceFps, undefined);
    let frames = 0;
    for (let image = await source.read(); image; image = await source.read()) {
      assert.equal(image.mat.cols, 640);
      frames++;
    }
    assert.equal(frames, truths.length);
    await source.close();
  });

  it('loops a file, and when realtime reports the file\'s fps as the pace the pipeline keeps (the source itself reads at once)', async () => {
    const source = new OpenCvSource({ kind: 'file', target: clip, loop: true, realtime: true });
    await source.open();
    assert.equal(source.paceFps, 15);
    for (let i = 0; i < truths.length * 2 + 1; i++) assert.ok(await source.read(), `frame ${i}`);
    await source.close();
  });

  it('reads an IP camera\'s multipart MJPEG stream over HTTP through FFmpeg (served on loopback)', async () => {
    // Like an ESP32-CAM or a cheap IP camera: one JPEG after another in a multipart response.
    // The server runs in its own process: opening a capture blocks this process's event loop.
    const dir = tempDir();
    const scene = new PaperDigitScene(320, 240);
    const digit = loadMnistSplit().validation[3][0];
    for (let i = 0; i < 40; i++) cv.imwrite(path.join(dir, `${String(i).padStart(3, '0')}.jpg`), scene.render(digit, { inkHeight: 0.5, angle: i, dx: 0, dy: 0 }));
    const serverCode = `
      const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
      const dir = process.argv[1];
      const jpegs = fs.readdirSync(dir).sort().map((f) => fs.readFileSync(path.join(dir, f)));
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=frame' });
        for (const jpeg of jpegs) res.write(Buffer.concat([Buffer.from('--frame\\r\\nContent-Type: image/jpeg\\r\\nContent-Length: ' + jpeg.length + '\\r\\n\\r\\n'), jpeg, Buffer.from('\\r\\n')]));
        res.end();
      });
      server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
    const child = spawn(process.execPath, ['-e', serverCode, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      const source = new OpenCvSource({ kind: 'url', target: `http://127.0.0.1:${port}/stream.mjpg` });
      await source.open();
      assert.match(source.description, /^url http:\/\/127\.0\.0\.1:\d+\/stream\.mjpg \(FFmpeg.* 320x240/);
      let frames = 0;
      for (let i = 0; i < 20; i++) if ((await source.read())?.mat.cols === 320) frames++;
      assert.equal(frames, 20);
      await source.close();
    } finally {
      child.kill();
    }
  });

  it('reads a GStreamer pipeline (videotestsrc standing in for libcamerasrc)', async () => {
    const pipeline = 'videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! video/x-raw,format=BGR ! appsink';
    const spec = parseSourceSpec(pipeline);
    assert.equal(spec.kind, 'gstreamer');
    const source = buildSource(spec, loadConfig({}), silentLogger());
    await source.open();
    assert.match(source.description, /^gstreamer videotestsrc .*\(GStreamer.* 320x240/);
    for (let i = 0; i < 10; i++) assert.equal((await source.read())?.mat.cols, 320);
    await source.close();
  });

  it('says which webcam device is missing for the node-webcam fallback', async () => {
    const source = new WebcamSource('/dev/video98', 640, 480);
    await assert.rejects(source.open(), (e: unknown) => e instanceof SourceError && /webcam \/dev\/video98/.test(e.message) && /(does not exist|fswebcam is not installed)/.test(e.message));
  });

  it('fails to open a file that is not a video, naming it and what was tried', async () => {
    const bogus = path.join(tempDir(), 'bogus.mp4');
    fs.writeFileSync(bogus, 'not a video');
    const source = new OpenCvSource({ kind: 'file', target: bogus });
    await assert.rejects(source.open(), (e: unknown) => e instanceof SourceError && e.message.includes('bogus.mp4') && /tried OpenCV/.test(e.message));
  });

  it('fails to open a camera that does not exist', async () => {
    const source = new OpenCvSource({ kind: 'camera', target: '/dev/video99', camera: { width: 640, height: 480, fps: 30, preferMjpeg: true } });
    await assert.rejects(source.open(), (e: unknown) => e instanceof SourceError && /\/dev\/video99/.test(e.message) && /V4L2/.test(e.message));
  });

  it('plays a folder of images in natural order and skips an undecodable one', async () => {
    const dir = tempDir();
    for (const n of [10, 2, 1]) cv.imwrite(path.join(dir, `${n}.png`), new cv.Mat(20, 20 + n, cv.CV_8UC3, [n, n, n]));
    fs.writeFileSync(path.join(dir, '3.png'), 'broken');
    const skipped: string[] = [];
    const source = new ImagesSource(dir, 50, false, (file) => skipped.push(path.basename(file)));
    await source.open();
    const widths: number[] = [];
    for (let image = await source.read(); image; image = await source.read()) widths.push(image.mat.cols);
    assert.deepEqual(widths, [21, 22, 30]);
    assert.deepEqual(skipped, ['3.png']);
  });

  it('refuses an empty image folder', async () => {
    await assert.rejects(new ImagesSource(tempDir(), 1, true).open(), /no .*png.* files in it/);
  });

  it('draws validation digits on paper in the demo, each frame with its truth', async () => {
    const demo = new DemoSource({ width: 640, height: 480, fps: 30, secondsPerDigit: 0.1, seed: 3 });
    await demo.open();
    const labels = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const image = await demo.read();
      assert.ok(image && image.truth !== undefined && /^\d$/.test(image.truth));
      labels.add(image.truth);
      // Light paper at the corner, dark ink somewhere.
      const gray = image.mat.cvtColor(cv.COLOR_BGR2GRAY);
      assert.ok(gray.at(5, 5) > 150);
      assert.ok(gray.minMaxLoc().minVal < 90);
    }
    assert.ok(labels.size >= 3, `digits change (${[...labels]})`);
  });

  it('builds each kind from the config and says what is missing', () => {
    const config = loadConfig({});
    assert.equal(buildSource({ kind: 'demo' }, config, silentLogger()).kind, 'demo');
    assert.throws(() => buildSource({ kind: 'url' }, config, silentLogger()), /source url needs url\.address to be set/);
    assert.throws(() => buildSource({ kind: 'file' }, config, silentLogger()), /source file needs file\.path to be set/);
    assert.equal(buildSource({ kind: 'gstreamer' }, config, silentLogger()).kind, 'gstreamer');
  });

  it('lists cameras with stable by-id names first', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'v4l', 'by-id'), { recursive: true });
    for (const n of ['video0', 'video1', 'video2']) fs.writeFileSync(path.join(root, n), '');
    fs.symlinkSync(path.join(root, 'video1'), path.join(root, 'v4l', 'by-id', 'usb-Cam-video-index1'));
    fs.symlinkSync(path.join(root, 'video0'), path.join(root, 'v4l', 'by-id', 'usb-Cam-video-index0'));
    const cams = listCameras(root);
    assert.deepEqual(cams.map((c) => path.relative(root, c.path)), ['v4l/by-id/usb-Cam-video-index0', 'v4l/by-id/usb-Cam-video-index1', 'video2']);
  });

  it('hides credentials in URLs', () => {
    assert.equal(redactUrl('rtsp://admin:hunter2@10.0.0.9/live'), 'rtsp://admin:***@10.0.0.9/live');
  });
});
