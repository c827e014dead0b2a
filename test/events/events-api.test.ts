import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cv } from '../../src/vision/cv';
import { json, startTestDaemon, waitUntil, type TestDaemon } from '../helpers/daemon';
import { runCli, tempDir } from '../helpers/fixtures';
import { LiveClient } from '../helpers/live-client';

/** The clip shows each digit for 0.5 s: with minSeconds 0.2 nearly every digit is an event. */
const EVENTS = { 'events.minSeconds': 0.2, 'events.cooldownSeconds': 0 };

describe('events: cut from the live decisions, kept, served (real daemon on the 30 fps clip)', function () {
  this.timeout(60_000);
  let d: TestDaemon;

  afterEach(async () => {
    await d?.stop();
  });

  it('events appear in GET /api/events with both JPEG snapshots, and socket.io sends start then end for each', async () => {
    d = await startTestDaemon(EVENTS);
    const client = new LiveClient(d.base, { token: d.token, frames: false });
    const messages: Array<{ phase: string; event: { id: string; label: string; start: number; end: number | null } }> = [];
    client.socket.on('event', (m) => messages.push(m));
    await waitUntil('three ended events on socket.io', () => messages.filter((m) => m.phase === 'end').length >= 3, 20_000);
    client.socket.close();

    const ended = messages.filter((m) => m.phase === 'end');
    for (const end of ended) {
      const startIndex = messages.findIndex((m) => m.phase === 'start' && m.event.id === end.event.id);
      // An event open when the client connected has no start message; the others do, before their end.
      if (startIndex >= 0) assert.ok(startIndex < messages.indexOf(end));
      assert.ok(end.event.end! - end.event.start >= 200, `an event shorter than minSeconds: ${JSON.stringify(end.event)}`);
      assert.match(end.event.label, /^[0-9]$/);
    }
    // Only the first event may have started before the client connected.
    const noStart = ended.filter((e) => !messages.some((m) => m.phase === 'start' && m.event.id === e.event.id));
    assert.ok(noStart.length === 0 || (noStart.length === 1 && noStart[0] === ended[0]), `ends without a start: ${noStart.map((e) => e.event.id)}`);
    const list = await json(fetch(`${d.base}/api/events?limit=100`, { headers: d.authHeaders }));
    const one = list.items.find((r: { id: string }) => r.id === ended[0].event.id);
    assert.ok(one, 'an event sent over socket.io is listed');
    assert.deepEqual(one.snapshots, { annotated: true, raw: true });
    const got = await json(fetch(`${d.base}/api/events/${one.id}`, { headers: d.authHeaders }));
    assert.equal(got.id, one.id);
    for (const name of ['snapshot.jpg', 'raw.jpg']) {
      const res = await fetch(`${d.base}/api/events/${one.id}/${name}`, { headers: d.authHeaders });
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      const mat = cv.imdecode(Buffer.from(await res.arrayBuffer()));
      assert.deepEqual([mat.cols, mat.rows], [640, 480], `${name} is the full frame`);
    }
    const noAuth = await fetch(`${d.base}/api/events/${one.id}/raw.jpg`);
    assert.equal(noAuth.status, 401);
  });

  it('filters by label and time, pages newest first, refuses bad parameters, deletes one and all', async () => {
    d = await startTestDaemon(EVENTS);
    const get = (q: string) => json(fetch(`${d.base}/api/events${q}`, { headers: d.authHeaders }));
    await waitUntil('four events', async () => (await get('')).total >= 4, 20_000);
    const all = await get('?limit=500');
    const starts = all.items.map((r: { start: number }) => r.start);
    assert.deepEqual(starts, [...starts].sort((a, b) => b - a), 'newest first');
    const label = all.items[0].label;
    const byLabel = await get(`?label=${label}&limit=500`);
    assert.ok(byLabel.items.length >= 1 && byLabel.items.every((r: { label: string }) => r.label === label));
    const pivot = all.items[1].start;
    const since = await get(`?since=${pivot}&limit=500`);
    assert.ok(since.items.every((r: { start: number }) => r.start >= pivot) && since.items.some((r: { id: string }) => r.id === all.items[1].id));
    const until = await get(`?until=${new Date(pivot).toISOString()}&limit=500`);
    assert.ok(until.items.every((r: { start: number }) => r.start < pivot));
    const page2 = await get('?offset=1&limit=1');
    assert.equal(page2.items.length, 1);
    assert.equal(page2.limit, 1);
    for (const bad of ['?limit=0', '?limit=501', '?offset=-1', '?since=yesterday']) {
      const res = await fetch(`${d.base}/api/events${bad}`, { headers: d.authHeaders });
      assert.equal(res.status, 400, bad);
      assert.match(((await res.json()) as { error: string }).error, /query parameter (limit|offset|since)/);
    }
    assert.equal((await fetch(`${d.base}/api/events/ev-nope`, { headers: d.authHeaders })).status, 404);
    assert.equal((await fetch(`${d.base}/api/events/..%2F..%2Ftoken`, { headers: d.authHeaders })).status, 404);

    const victim = all.items[all.items.length - 1];
    const del = await fetch(`${d.base}/api/events/${victim.id}`, { method: 'DELETE', headers: d.authHeaders });
    assert.equal(del.status, 200);
    assert.equal((await fetch(`${d.base}/api/events/${victim.id}`, { headers: d.authHeaders })).status, 404);
    assert.equal((await fetch(`${d.base}/api/events/${victim.id}/snapshot.jpg`, { headers: d.authHeaders })).status, 404);
    const eventsDir = path.join(d.stateDir, 'events');
    assert.ok(!fs.readdirSync(eventsDir).some((f) => f.startsWith(victim.id)), 'its files are gone');

    const before = await get('?limit=500');
    const delAll = await json(fetch(`${d.base}/api/events`, { method: 'DELETE', headers: d.authHeaders }));
    assert.ok(delAll.deleted >= before.total);
    const after = await get('?limit=500');
    assert.ok(!after.items.some((r: { id: string }) => before.items.some((b: { id: string }) => b.id === r.id)), 'none of the deleted ones is listed');
  });

  it('events survive a restart (same state directory); the one open at stop is closed as interrupted', async () => {
    d = await startTestDaemon(EVENTS);
    const get = async (base: string, headers: Record<string, string>) => json(fetch(`${base}/api/events?limit=500`, { headers }));
    await waitUntil('two events', async () => (await get(d.base, d.authHeaders)).total >= 2, 20_000);
    // Stop while an event is open: the client hears its start and not yet its end.
    const client = new LiveClient(d.base, { token: d.token, frames: false });
    const open = new Set<string>();
    client.socket.on('event', (m: { phase: string; event: { id: string } }) => (m.phase === 'start' ? open.add(m.event.id) : open.delete(m.event.id)));
    const openId = await waitUntil('an event open', () => [...open][0], 20_000);
    client.close();
    const stateDir = d.stateDir;
    await d.stop();
    const onDisk = fs.readdirSync(path.join(stateDir, 'events')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    d = await startTestDaemon({ ...EVENTS, 'state.dir': stateDir, 'events.labels': 'none-of-these' });
    const after = await get(d.base, d.authHeaders);
    assert.deepEqual(after.items.map((r: { id: string }) => r.id).sort(), onDisk.sort());
    assert.ok(after.items.every((r: { end: number | null }) => r.end !== null), 'no event is left open');
    assert.equal(after.items.find((r: { id: string }) => r.id === openId)?.interrupted, true, 'the event open at stop is not marked interrupted');
  });

  it('metrics and status count events by label', async () => {
    d = await startTestDaemon(EVENTS);
    await waitUntil('an event', async () => (await json(fetch(`${d.base}/api/events`, { headers: d.authHeaders }))).total >= 1, 20_000);
    const status = await json(fetch(`${d.base}/api/status`, { headers: d.authHeaders }));
    assert.ok(status.integrations.events.stored >= 1);
    const byLabel = status.integrations.events.byLabel as Record<string, number>;
    assert.ok(Object.values(byLabel).reduce((a, b) => a + b, 0) >= 1);
    const metrics = await (await fetch(`${d.base}/metrics`, { headers: d.authHeaders })).text();
    assert.match(metrics, /^edgesight_events_total\{label="[0-9]"\} [1-9]/m);
  });
});

describe('events: start-up mistakes are one line and exit 2', function () {
  this.timeout(60_000);
  for (const [what, set, line] of [
    ['retention of zero', 'events.retentionDays=0', /^edgesight: config: events\.retentionDays = "0" \(from command line\) is not allowed: must be a number from 0\.001 to 3650$/],
    ['an events directory that does not exist', 'events.dir=/nonexistent/edgesight-events', /^edgesight: config: events\.dir = \/nonexistent\/edgesight-events does not exist/],
    ['a webhook URL that is not http', 'webhooks.urls=ftp://example.org/x', /^edgesight: config: webhooks\.urls: "ftp:\/\/example\.org" must be http:\/\/ or https:\/\/$/],
  ] as const) {
    it(`${what} is refused, naming the key`, () => {
      const result = runCli(['run', '--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${tempDir('edgesight-state-')}`, '--set', set]);
      const lines = result.stderr.replace(/\n$/, '').split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0], line);
      assert.equal(result.code, 2);
    });
  }
});
