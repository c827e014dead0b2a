import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';
import { projectRoot } from '../helpers/fixtures';

const artifactsDir = path.join(projectRoot, 'test', 'artifacts');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const CHROMIUM = process.env.EDGESIGHT_CHROMIUM ?? '/usr/bin/chromium';
const QUIET_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps'];

describe('dashboard dataset panel in a real headless Chromium', function () {
  this.timeout(180_000);
  let d: TestDaemon;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const files = (label: string) => (fs.existsSync(path.join(d.stateDir, 'dataset', label)) ? fs.readdirSync(path.join(d.stateDir, 'dataset', label)).filter((f) => f.endsWith('.jpg')) : []);

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh --test`);
    // Hard examples on (every frame is under a threshold of 1), one per 2 s: _unlabelled fills slowly.
    d = await startTestDaemon({ 'stream.maxFps': 15, 'dataset.hardExamples': true, 'dataset.hardExamplesThreshold': 1, 'dataset.hardExamplesEverySeconds': 2, 'dataset.maxBurst': 40 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: QUIET_FLAGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(d.base + '/');
    await page.fill('#token', d.token);
    await Promise.all([page.waitForURL(d.base + '/'), page.click('button[type=submit]')]);
    await page.waitForFunction(() => Number(document.getElementById('frames-shown')?.dataset.count) >= 5, undefined, { timeout: 20_000 });
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
  });

  it('takes one sample with a typed label and shows its count and thumbnail', async () => {
    await page.fill('#dataset-label', 'seven');
    await page.click('#dataset-one');
    await page.waitForFunction(() => /1 sample\(s\) of seven saved/.test(document.getElementById('dataset-message')?.textContent ?? ''));
    assert.equal(files('seven').length, 1);
    await page.locator('#dataset-counts button[data-label="seven"]').click();
    await page.waitForFunction(() => document.querySelectorAll('#dataset-grid figure.sample').length === 1);
    // The thumbnail really loaded (an <img> that failed has naturalWidth 0).
    await page.waitForFunction(() => (document.querySelector('#dataset-grid img')?.naturalWidth ?? 0) === 160);
    assert.match((await page.textContent('#dataset-disk')) ?? '', /samples · \d+\.\d of 1024\.0 MB/);
  });

  it('keeps frames while the burst button is held, and stops on release', async () => {
    // hover() scrolls the button into view first: the grid above it grows as thumbnails load, and
    // a press at coordinates read before that can land beside the button.
    await page.locator('#dataset-burst').hover();
    await page.mouse.down();
    await waitUntil('burst samples', () => files('seven').length >= 4);
    await page.mouse.up();
    await page.waitForFunction(() => /sample\(s\) of seven saved \(stopped/.test(document.getElementById('dataset-message')?.textContent ?? ''));
    const after = files('seven').length;
    assert.ok(after < 41, `${after} samples: the burst did not stop on release`);
    await page.waitForTimeout(500);
    assert.equal(files('seven').length, after, 'samples kept coming after release');
  });

  it('runs a timed capture (count, every seconds)', async () => {
    await page.fill('#dataset-label', 'timed');
    await page.fill('#dataset-count', '2');
    await page.fill('#dataset-every', '0.5');
    await page.click('#dataset-timed');
    await waitUntil('timed samples', () => files('timed').length === 2, 10_000);
    await page.waitForFunction(() => /timed 2/.test(document.getElementById('dataset-counts')?.textContent ?? ''));
  });

  it('relabels and deletes from the grid, and labels a hard example in one click', async () => {
    await page.locator('#dataset-counts button[data-label="timed"]').click();
    await page.waitForFunction(() => document.querySelectorAll('#dataset-grid figure.sample').length === 2);
    const first = page.locator('#dataset-grid figure.sample').first();
    const id = (await first.getAttribute('data-id'))!;
    await first.locator('input.relabel').fill('moved');
    await first.locator('button.move').click();
    await waitUntil('moved on disk', () => files('moved').length === 1 && files('timed').length === 1);
    assert.equal(files('moved')[0], id.split('/')[1]);
    await page.waitForFunction(() => document.querySelectorAll('#dataset-grid figure.sample').length === 1);
    await page.locator('#dataset-grid figure.sample button.delete').click();
    await waitUntil('deleted on disk', () => files('timed').length === 0);

    await waitUntil('a hard example', () => files('_unlabelled').length >= 1);
    await page.locator('#dataset-counts button[data-label="_unlabelled"]').click();
    const tile = page.locator('#dataset-grid figure.sample').first();
    await tile.locator('button.accept').waitFor();
    const guess = ((await tile.locator('button.accept').textContent()) ?? '').replace('It is ', '');
    const name = (await tile.getAttribute('data-id'))!.split('/')[1];
    await tile.locator('button.accept').click();
    await waitUntil('the hard example labelled', () => files(guess).includes(name));
    const summary = await json(fetch(d.base + '/api/dataset', { headers: d.authHeaders }));
    assert.ok(summary.labels.some((l: { label: string }) => l.label === guess));
  });

  it('shows the cap message when capture stops for space', async () => {
    // Shrink the cap under what is used, as a full disk would: the next capture is refused.
    (d.daemon.dataset!.store.limits as { capBytes: number }).capBytes = 1;
    await page.fill('#dataset-label', 'seven');
    await page.click('#dataset-one');
    await page.waitForFunction(() => /not captured: capture refused: dataset is full/.test(document.getElementById('dataset-message')?.textContent ?? ''));
    await page.waitForFunction(() => /Capture stopped: dataset is full/.test(document.getElementById('dataset-full')?.textContent ?? ''));
    fs.mkdirSync(artifactsDir, { recursive: true });
    await page.screenshot({ path: path.join(artifactsDir, 'dataset-panel.png'), fullPage: true });
  });

  it('ran without script errors, CSP violations or failed requests', () => {
    assert.deepEqual(problems, []);
  });
});
