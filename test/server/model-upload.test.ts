import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';
import { defaultModelEntries, deflatedZeros, honestEntry, longestStall, multipartParts, postInChunks, zipBytes, type RawZipEntry } from '../helpers/hostile-uploads';

const BOUNDARY = 'edgesight-test-boundary';

describe('hostile model uploads (real daemon on a real clip)', function () {
  this.timeout(120_000);
  let d: TestDaemon;

  before(async () => {
    d = await startTestDaemon();
    // Serving before anything is sent, so that "still serving" afterwards says something.
    await waitUntil('the first classified frame', () => d.daemon.pipeline?.latest);
  });
  after(async () => {
    await d?.stop();
  });

  const serving = async () => (await json(fetch(d.base + '/api/model', { headers: d.authHeaders }))).version as string;
  const postMultipart = (chunks: Buffer[], pauseMs = 0) => postInChunks(d.base + '/api/model', { ...d.authHeaders, 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` }, chunks, pauseMs);
  const postZip = (entries: RawZipEntry[]) => postInChunks(d.base + '/api/model', { ...d.authHeaders, 'Content-Type': 'application/zip' }, [zipBytes(entries)], 0);

  /** The daemon answered, still serves, still classifies new frames, and kept nothing of the refused upload. */
  async function assertStillServingAndClean(): Promise<void> {
    assert.equal((await fetch(d.base + '/healthz')).status, 200);
    const classified = d.daemon.pipeline!.stats.classified;
    await waitUntil('frames still being classified', () => d.daemon.pipeline!.stats.classified > classified + 5);
    assert.deepEqual(fs.readdirSync(path.join(d.stateDir, 'incoming')), [], 'the refused upload left files in incoming/');
  }

  it('refuses a file and a folder of the same name sent in two chunks with a pause (400 naming both) without ending the process', async () => {
    const [extra, inside, end] = multipartParts(BOUNDARY, [
      ['extra', 'a file'],
      ['extra/x', 'a file in a folder of the same name'],
    ]);
    // The pause lets the first part reach the disk before the second part's name arrives.
    const res = await postMultipart([extra, Buffer.concat([inside, end])], 300);
    assert.equal(res.status, 400, res.text);
    assert.match(JSON.parse(res.text).error, /both a file "extra" and "extra\/x"/);
    await assertStillServingAndClean();
  });

  it('refuses the same conflict in one chunk, either order, and a file name sent twice, with 400 naming them', async () => {
    const cases: Array<[Array<[string, string]>, RegExp]> = [
      [[['extra', 'a'], ['extra/x', 'b']], /both a file "extra" and "extra\/x"/],
      [[['extra/x', 'b'], ['extra', 'a']], /both a file "extra" and "extra\/x"/],
      [[['model.json', '{}'], ['model.json', '{}']], /holds "model\.json" twice/],
    ];
    for (const [files, message] of cases) {
      const res = await postMultipart([Buffer.concat(multipartParts(BOUNDARY, files))]);
      assert.equal(res.status, 400, `${JSON.stringify(files)}: ${res.text}`);
      assert.match(JSON.parse(res.text).error, message);
    }
    await assertStillServingAndClean();
  });

  it('refuses a zip holding model.json and model.json/x with 400 naming both', async () => {
    const res = await postZip([honestEntry('model.json', Buffer.from('{}')), honestEntry('model.json/x', Buffer.from('x'))]);
    assert.equal(res.status, 400, res.text);
    assert.match(JSON.parse(res.text).error, /both a file "model\.json" and "model\.json\/x"/);
    await assertStillServingAndClean();
  });

  it('refuses a zip entry that inflates past its declared size, names it, installs nothing and never stalls the event loop', async () => {
    const before = await serving();
    // A working package plus one entry whose headers say 1,000 bytes and whose data inflates to 256 MB.
    const bomb: RawZipEntry = { name: 'extra.bin', stored: await deflatedZeros(256 << 20), deflated: true, declaredSize: 1000, crc: zlib.crc32(Buffer.alloc(1000)) };
    const { result: res, stallMs } = await longestStall(() => postZip([...defaultModelEntries('bomb'), bomb]));
    assert.equal(res.status, 400, res.text);
    assert.match(JSON.parse(res.text).error, /zip entry "extra\.bin" inflates to more than the 1000 bytes its header declares/);
    assert.equal(await serving(), before);
    assert.ok(stallMs < 200, `the event loop stalled ${Math.round(stallMs)} ms during the upload`);
    await assertStillServingAndClean();
  });

  it('refuses a zip entry that inflates to fewer bytes than declared, naming it', async () => {
    const short: RawZipEntry = { ...honestEntry('extra.bin', Buffer.alloc(10)), declaredSize: 1000 };
    const res = await postZip([...defaultModelEntries('short'), short]);
    assert.equal(res.status, 400, res.text);
    assert.match(JSON.parse(res.text).error, /zip entry "extra\.bin" inflates to 10 bytes, not the 1000 its header declares/);
    assert.notEqual(await serving(), 'short');
    await assertStillServingAndClean();
  });

  it('still accepts an honest zip, of the package files or of the package folder', async () => {
    let res = await postZip(defaultModelEntries('zip-flat'));
    assert.equal(res.status, 200, res.text);
    assert.equal(await serving(), 'zip-flat');
    res = await postZip([{ name: 'mymodel/', stored: Buffer.alloc(0), deflated: false, declaredSize: 0, crc: 0 }, ...defaultModelEntries('zip-folder').map((e) => ({ ...e, name: `mymodel/${e.name}` }))]);
    assert.equal(res.status, 200, res.text);
    assert.equal(await serving(), 'zip-folder');
    assert.deepEqual(fs.readdirSync(path.join(d.stateDir, 'incoming')), []);
  });
});
