import { strict as assert } from 'node:assert';
import { redactUrl } from '../../src/util/redact';

describe('redactUrl', () => {
  const cases: Array<[string, string]> = [
    ['rtsp://admin:hunter2@10.0.0.9/live', 'rtsp://admin:***@10.0.0.9/live'],
    ['rtsp://admin@10.0.0.9/live', 'rtsp://admin@10.0.0.9/live'],
    ['http://cam.local:8080/video', 'http://cam.local:8080/video'],
    ['rtspsrc location=rtsp://u:p4ss@cam/h264 ! decodebin ! appsink', 'rtspsrc location=rtsp://u:***@cam/h264 ! decodebin ! appsink'],
    ['https://a:b@one.example/x,https://c:d@two.example/y', 'https://a:***@one.example/x,https://c:***@two.example/y'],
    ['https://hooks.example/in?token=abc123&room=7', 'https://hooks.example/in?token=***&room=7'],
    ['mqtts://user:s3cr3t@broker:8883', 'mqtts://user:***@broker:8883'],
    ['/dev/video0', '/dev/video0'],
  ];
  for (const [input, shown] of cases) it(`${input} -> ${shown}`, () => assert.equal(redactUrl(input), shown));
});
