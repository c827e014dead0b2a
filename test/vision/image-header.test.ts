import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cv } from '../../src/vision/cv';
import { imageSizeOf, readImageSize } from '../../src/vision/image-header';
import { runCliAsync, tempDir } from '../helpers/fixtures';
import { writeBlackPng } from '../helpers/model-packages';

describe('image sizes read from headers, before decoding', () => {
  it('reads width and height from PNG, JPEG, BMP and WebP files that OpenCV wrote', () => {
    const image = new cv.Mat(23, 37, cv.CV_8UC3, [40, 80, 120]);
    for (const [ext, format] of [['.png', 'png'], ['.jpg', 'jpeg'], ['.bmp', 'bmp'], ['.webp', 'webp']] as const) {
      assert.deepEqual(imageSizeOf(cv.imencode(ext, image)), { format, width: 37, height: 23 }, ext);
    }
    image.release();
  });

  it('reads a GIF header and gives up on what it does not know', () => {
    const gif = Buffer.from('GIF89a\x2c\x01\xc8\x00\x00\x00\x00', 'latin1');
    assert.deepEqual(imageSizeOf(gif), { format: 'gif', width: 300, height: 200 });
    assert.equal(imageSizeOf(Buffer.from('II*\x00 a TIFF file', 'latin1')), undefined);
    assert.equal(imageSizeOf(Buffer.from([0xff, 0xd8, 0xff])), undefined, 'a JPEG cut short');
  });

  it('finds a JPEG frame header behind a large metadata segment', async () => {
    const jpeg = cv.imencode('.jpg', new cv.Mat(10, 20, cv.CV_8UC1, 0));
    const app1 = Buffer.alloc(4 + 60_000);
    app1.writeUInt16BE(0xffe1, 0);
    app1.writeUInt16BE(60_002, 2);
    const file = path.join(tempDir(), 'exif.jpg');
    fs.writeFileSync(file, Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]));
    assert.deepEqual(await readImageSize(file), { format: 'jpeg', width: 20, height: 10 });
  });

  it('`edgesight predict` refuses a 16000x16000 PNG by name instead of decoding it', async () => {
    const file = path.join(tempDir(), 'bomb.png');
    await writeBlackPng(file, 16000, 16000);
    const result = await runCliAsync(['predict', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /bomb\.png: is a 16000x16000 PNG \(256 megapixels\); images over 40 megapixels are refused before decoding/);
  });
});
