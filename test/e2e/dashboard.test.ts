import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';
import { zipSync } from 'fflate';
import { defaultModelDir, projectRoot, tempDir } from '../helpers/fixtures';

// Functions passed to page.evaluate run in the page; the project compiles without the DOM types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;
type HTMLCanvasElement = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Debian's chromium (scripts/setup.sh --test installs it); playwright-core downloads no browser. */
const CHROMIUM = process.env.EDGESIGHT_CHROMIUM ?? '/usr/bin/chromium';
export const artifactsDir = path.join(projectRoot, 'test', 'artifacts');
// Without these, Chromium keeps trying to reach Google's hosts from a machine that may have no internet.
const QUIET_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps'];

describe('dashboard in a real headless Chromium', function () {
  this.timeout(180_000);
  let d: TestDaemon;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const foreignRequests: string[] = [];

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh --test (it installs Debian's chromium)`);
    d = await startTestDaemon({ 'stream.maxFps': 15 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: QUIET_FLAGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    // CSP violations and script errors show up here; the dashboard must have none.
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => !r.url().startsWith(d.base) && foreignRequests.push(r.url()));
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
  });

  it('sends a visitor without a session to the login page, and refuses a wrong token', async () => {
    await page.goto(d.base + '/');
    assert.match(page.url(), /\/login\?next=/);
    await page.fill('#token', 'wrong-token');
    await page.click('button[type=submit]');
    assert.match((await page.textContent('.error')) ?? '', /not right/);
    // The refused sign-in is the one failed request expected in this whole session (the browser
    // also logs it to the console); anything else here is a problem like any other.
    const expected = problems.filter((p) => p === `HTTP 401 POST ${d.base}/login` || /status of 401/.test(p));
    assert.ok(expected.some((p) => p.startsWith('HTTP 401')), problems.join('\n'));
    assert.deepEqual(problems.filter((p) => !expected.includes(p)), [], 'problems besides the refused sign-in');
    problems.length = 0;
  });

  it('signs in and shows the live image, label, top-k and speed', async () => {
    await page.fill('#token', d.token);
    await Promise.all([page.waitForURL(d.base + '/'), page.click('button[type=submit]')]);
    await page.waitForFunction(() => Number(document.getElementById('frames-shown')?.dataset.count) >= 10, undefined, { timeout: 20_000 });
    assert.equal(await page.textContent('#connection'), 'live');
    const label = (await page.textContent('#label')) ?? '';
    assert.match(label, /^([0-9]|uncertain)$/);
    assert.equal(await page.locator('#topk li').count(), 3);
    await page.waitForFunction(() => /^\d+\.\d$/.test(document.getElementById('fps')?.textContent ?? ''), undefined, { timeout: 5000 });
    assert.match((await page.textContent('#latency-ms')) ?? '', /^\d+$/);
    assert.match((await page.textContent('#model')) ?? '', /edgesight-digits/);
    // The canvas holds a real picture: paper is bright, the overlay and ink are dark.
    const spread = await page.evaluate(() => {
      const c = document.getElementById('frame') as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let min = 255;
      let max = 0;
      for (let i = 0; i < data.length; i += 4 * 97) {
        min = Math.min(min, data[i + 1]);
        max = Math.max(max, data[i + 1]);
      }
      return { width: c.width, height: c.height, min, max };
    });
    assert.deepEqual([spread.width, spread.height], [640, 480]);
    assert.ok(spread.max - spread.min > 100, `canvas looks blank: ${JSON.stringify(spread)}`);
    // It keeps updating.
    const before = Number(await page.getAttribute('#frames-shown', 'data-count'));
    await page.waitForFunction((n) => Number(document.getElementById('frames-shown')?.dataset.count) > n + 10, before, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('#timeline span').length >= 20);
  });

  it('changes the threshold on the daemon from the slider', async () => {
    await page.locator('#threshold').fill('0.9');
    await waitUntil('threshold applied on the daemon', async () => (await json(fetch(d.base + '/api/settings', { headers: d.authHeaders })))['decision.threshold'] === 0.9);
    await page.waitForFunction(() => document.getElementById('threshold-value')?.textContent === '0.90');
  });

  it('pauses and resumes the picture, and toggles the overlay', async () => {
    await page.click('#pause');
    await page.waitForTimeout(400);
    const held = Number(await page.getAttribute('#frames-shown', 'data-count'));
    await page.waitForTimeout(1000);
    assert.ok(Number(await page.getAttribute('#frames-shown', 'data-count')) <= held + 1, 'frames kept coming while paused');
    assert.equal(await page.textContent('#pause'), 'Resume');
    await page.click('#pause');
    await page.waitForFunction((n) => Number(document.getElementById('frames-shown')?.dataset.count) > n + 5, held);
    await page.uncheck('#overlay');
    await waitUntil('overlay off on the daemon', () => d.daemon.pipeline!.overlayEnabled === false);
    await page.check('#overlay');
    await waitUntil('overlay on again', () => d.daemon.pipeline!.overlayEnabled);
  });

  it('reconnects by itself when the connection drops or the server hangs up', async () => {
    const io = (d.daemon.server as unknown as { live: { io: { disconnectSockets(close: boolean): void; on(e: 'connection', f: () => void): void } } }).live.io;
    let connections = 0;
    io.on('connection', () => connections++);
    for (const close of [true, false]) {
      const shown = Number(await page.getAttribute('#frames-shown', 'data-count'));
      const had = connections;
      io.disconnectSockets(close);
      // The page may show the drop only for a moment; the server seeing it come back is the proof.
      await page.waitForFunction(() => document.getElementById('connection')?.dataset.state !== 'live', undefined, { timeout: 5000 }).catch(() => undefined);
      await waitUntil('the page reconnected', () => connections > had, 15_000);
      await page.waitForFunction(() => document.getElementById('connection')?.dataset.state === 'live', undefined, { timeout: 15_000 });
      await page.waitForFunction((n) => Number(document.getElementById('frames-shown')?.dataset.count) > n + 5, shown, { timeout: 15_000 });
    }
  });

  it('takes a new model from an uploaded zip, refuses a broken one, and rolls back', async () => {
    const pkg = path.join(tempDir(), 'digits-ui');
    fs.cpSync(defaultModelDir, pkg, { recursive: true });
    const meta = JSON.parse(fs.readFileSync(path.join(pkg, 'metadata.json'), 'utf8'));
    const zip = (version: string, weights?: Uint8Array) => {
      const files: Record<string, Uint8Array> = {};
      for (const name of fs.readdirSync(pkg)) files[name] = fs.readFileSync(path.join(pkg, name));
      files['metadata.json'] = Buffer.from(JSON.stringify({ ...meta, version }));
      if (weights) files['weights.bin'] = weights;
      const file = path.join(tempDir(), `${version}.zip`);
      fs.writeFileSync(file, zipSync(files));
      return file;
    };
    await page.setInputFiles('#model-zip', zip('from-the-browser'));
    await page.waitForFunction(() => /now serving edgesight-digits from-the-browser/.test(document.getElementById('model-message')?.textContent ?? ''));
    assert.match((await page.textContent('#model')) ?? '', /from-the-browser/);
    await page.setInputFiles('#model-zip', zip('broken', new Uint8Array(10)));
    await page.waitForFunction(() => /refused: .*weights\.bin/.test(document.getElementById('model-message')?.textContent ?? ''));
    await page.click('#rollback');
    await page.waitForFunction(() => /rolled back to edgesight-digits/.test(document.getElementById('model-message')?.textContent ?? ''));
    assert.doesNotMatch((await page.textContent('#model')) ?? '', /from-the-browser/);
    // Refused uploads answer 422, which the page reports; drop them from the list of problems.
    const expected = problems.filter((p) => /HTTP 422 POST .*\/api\/model$|status of 422/.test(p));
    assert.equal(expected.length, 2, problems.join('\n'));
    for (const p of expected) problems.splice(problems.indexOf(p), 1);
  });

  it('takes a Keras .h5 file picked with its labels.txt', async () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(projectRoot, 'test', 'fixtures', 'keras-models', 'himalrana_mnist_cnn.h5'), path.join(dir, 'himalrana_mnist_cnn.h5'));
    fs.writeFileSync(path.join(dir, 'labels.txt'), Array.from({ length: 10 }, (_, i) => `digit ${i}`).join('\n'));
    await page.setInputFiles('#model-zip', [path.join(dir, 'himalrana_mnist_cnn.h5'), path.join(dir, 'labels.txt')]);
    await page.waitForFunction(() => /now serving himalrana_mnist_cnn\.h5 keras 3\.10\.0/.test(document.getElementById('model-message')?.textContent ?? ''), undefined, { timeout: 60_000 });
    assert.match((await page.textContent('#model')) ?? '', /himalrana_mnist_cnn\.h5/);
  });

  it('downloads a snapshot', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#snapshot')]);
    const file = await download.path();
    const jpeg = fs.readFileSync(file);
    assert.equal(jpeg.readUInt16BE(0), 0xffd8);
  });

  it('fits a phone screen, and leaves screenshots as test artifacts', async () => {
    fs.mkdirSync(artifactsDir, { recursive: true });
    await page.locator('#threshold').fill('0.5');
    await page.waitForFunction(() => Number(document.getElementById('frames-shown')?.dataset.count) > 0);
    await page.screenshot({ path: path.join(artifactsDir, 'dashboard.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone screen`);
    await page.screenshot({ path: path.join(artifactsDir, 'dashboard-phone.png'), fullPage: true });
    assert.ok(fs.statSync(path.join(artifactsDir, 'dashboard.png')).size > 20_000);
  });

  it('ran without script errors or CSP violations, and fetched nothing from other hosts', () => {
    assert.deepEqual(problems, []);
    assert.deepEqual(foreignRequests, []);
  });
});
