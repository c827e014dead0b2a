import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const CHROMIUM = process.env.EDGESIGHT_CHROMIUM ?? '/usr/bin/chromium';
const QUIET_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps'];

describe('dashboard events list in a real headless Chromium', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh --test`);
    d = await startTestDaemon({ 'stream.maxFps': 5, 'events.minSeconds': 0.2, 'events.cooldownSeconds': 0, 'events.clips': true, 'events.preSeconds': 0.5, 'events.postSeconds': 0.5 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: QUIET_FLAGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
  });

  it('lists events live with thumbnails, opens one, deletes it; no CSP or script errors', async () => {
    await page.goto(d.base + '/');
    await page.fill('#token', d.token);
    await Promise.all([page.waitForURL(d.base + '/'), page.click('button[type=submit]')]);
    // Thumbnails that really loaded (a broken image has naturalWidth 0).
    await page.waitForFunction(() => [...document.querySelectorAll('#events-list img')].filter((i: { complete: boolean; naturalWidth: number }) => i.complete && i.naturalWidth === 640).length >= 3, undefined, { timeout: 30_000 });
    const first = page.locator('#events-list li').first();
    const id = await first.getAttribute('data-id');
    assert.match(id ?? '', /^ev-/);
    await page.evaluate((id: string | null) => document.querySelector(`#events-list li[data-id="${id}"]`).click(), id);
    await page.waitForFunction(() => document.getElementById('event-dialog').open && document.getElementById('event-image').naturalWidth === 640, undefined, { timeout: 10_000 });
    assert.match((await page.textContent('#event-title')) ?? '', /^[0-9] — /);
    assert.equal(await page.getAttribute('#event-raw', 'href'), `/api/events/${id}/raw.jpg`);
    await page.click('#event-delete');
    await page.waitForFunction((gone: string | null) => !document.querySelector(`#events-list li[data-id="${gone}"]`), id, { timeout: 5000 });
    const res = await fetch(`${d.base}/api/events/${id}`, { headers: d.authHeaders });
    assert.equal(res.status, 404, 'deleted on the daemon too');
    assert.deepEqual(problems, []);
  });

  it("plays an event's clip in the viewer", async () => {
    const withClip = await waitUntil('an event with a clip', async () => (await json(fetch(`${d.base}/api/events?limit=10`, { headers: d.authHeaders }))).items.find((r: { clip?: unknown }) => r.clip), 20_000);
    // Clicked in the page in one step: a live update may replace the row between Playwright's checks and its click.
    await page.waitForSelector(`#events-list li[data-id="${withClip.id}"]`);
    await page.evaluate((id: string) => document.querySelector(`#events-list li[data-id="${id}"]`).click(), withClip.id as string);
    await page.waitForFunction(() => !document.getElementById('event-play').hidden, undefined, { timeout: 5000 });
    assert.match((await page.textContent('#event-play')) ?? '', /^Play clip \([0-9.]+ s\)$/);
    assert.equal(await page.getAttribute('#event-clip', 'href'), `/api/events/${withClip.id}/clip.avi`);
    await page.click('#event-play');
    await page.waitForFunction(() => /clip\.mjpg/.test(document.getElementById('event-image').src) && document.getElementById('event-image').naturalWidth === 640, undefined, { timeout: 10_000 });
    await page.click('#event-close');
    assert.deepEqual(problems, []);
  });
});
