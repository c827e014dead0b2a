import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { json, requestFrom, startTestDaemon, sleep, waitUntil, type TestDaemon } from '../helpers/daemon';

/**
 * Protected routes as [method, path, what a browser without a session gets]: each must refuse a
 * request without the secret; a page opened in a browser is sent to the login page (303), the
 * API and the pictures answer 401 (players then ask for Basic credentials).
 */
const PROTECTED: Array<[string, string, 303 | 401]> = [
  ['GET', '/', 303],
  ['GET', '/index.html', 303],
  ['GET', '/app.js', 303],
  ['GET', '/style.css', 303],
  ['GET', '/vendor/socket.io.esm.min.js', 303],
  ['GET', '/api/status', 401],
  ['GET', '/api/predictions', 401],
  ['GET', '/api/predictions/latest', 401],
  ['GET', '/api/model', 401],
  ['GET', '/api/settings', 401],
  ['PATCH', '/api/settings', 401],
  ['GET', '/metrics', 303],
  ['GET', '/stream.mjpg', 401],
  ['GET', '/snapshot.jpg', 401],
  ['GET', '/no-such-page', 303],
];

/** Reads `parts` JPEG parts of a multipart MJPEG response, then aborts it. */
function readMjpeg(url: string, headers: Record<string, string>, parts: number): Promise<{ contentType: string; jpegs: Buffer[]; seqs: number[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      const contentType = String(res.headers['content-type']);
      const boundary = /boundary=(\S+)/.exec(contentType)?.[1];
      let buffer = Buffer.alloc(0);
      const jpegs: Buffer[] = [];
      const seqs: number[] = [];
      res.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          const headerEnd = buffer.indexOf('\r\n\r\n');
          if (headerEnd < 0) return;
          const head = buffer.subarray(0, headerEnd).toString();
          assert.ok(head.includes(`--${boundary}`), `part header without boundary: ${head}`);
          const length = Number(/Content-Length: (\d+)/i.exec(head)?.[1]);
          if (buffer.length < headerEnd + 4 + length + 2) return;
          jpegs.push(buffer.subarray(headerEnd + 4, headerEnd + 4 + length));
          seqs.push(Number(/X-Sequence: (\d+)/i.exec(head)?.[1]));
          buffer = buffer.subarray(headerEnd + 4 + length + 2);
          if (jpegs.length >= parts) {
            req.destroy();
            return resolve({ contentType, jpegs, seqs });
          }
        }
      });
    });
    req.on('error', (err) => (err.message.includes('aborted') ? undefined : reject(err)));
  });
}

describe('HTTP routes (real daemon on a real clip)', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  /** When the daemon was being started: its uptime lies between these two. */
  let startCalledAt = 0;
  let startedBy = 0;

  before(async () => {
    startCalledAt = Date.now();
    d = await startTestDaemon();
    startedBy = Date.now();
    await waitUntil('first classified frame', () => d.daemon.pipeline?.latest);
  });
  after(async () => {
    await d?.stop();
  });

  it('creates the token 0600 in the state directory and never shows it in API output', async () => {
    const file = path.join(d.stateDir, 'token');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok(d.token.length >= 40);
    for (const route of ['/api/status', '/api/model', '/api/settings', '/api/predictions', '/metrics']) {
      const text = await (await fetch(d.base + route, { headers: d.authHeaders })).text();
      assert.ok(!text.includes(d.token), `${route} shows the token`);
    }
  });

  it('refuses every route but /healthz and /login without the secret or with a wrong one', async () => {
    // Each route is tried from its own loopback address: the limiter counts failures per address.
    let client = 10;
    for (const [method, route, browserStatus] of PROTECTED) {
      const from = `127.0.0.${client++}`;
      for (const headers of [{}, { Authorization: 'Bearer wrong-token-0123456789' }, { Cookie: 'edgesight_session=99999999999999.forged' }] as Array<Record<string, string>>) {
        const res = await requestFrom(from, d.base + route, { method, headers: { Accept: 'application/json', ...headers } });
        assert.equal(res.status, 401, `${method} ${route} with ${JSON.stringify(headers)} answered ${res.status}`);
        assert.ok(!res.text.includes('"label"'), `${route} leaked a prediction`);
      }
      // A browser opening a page without a session is sent to the login page.
      const page = await requestFrom(from, d.base + route, { method, headers: { Accept: 'text/html' } });
      assert.equal(page.status, browserStatus, `${method} ${route} opened in a browser`);
      if (browserStatus === 303) assert.equal(page.headers.location, `/login?next=${encodeURIComponent(route)}`);
    }
    assert.equal((await fetch(d.base + '/healthz')).status, 200);
    assert.equal((await fetch(d.base + '/login')).status, 200);
    // Players get a Basic challenge they can answer with user:token.
    const mjpeg = await requestFrom('127.0.0.9', d.base + '/stream.mjpg');
    assert.match(String(mjpeg.headers['www-authenticate']), /^Basic/);
  });

  it('serves every route with the token (Bearer, or Basic with the token as password)', async () => {
    for (const [method, route] of PROTECTED) {
      if (route === '/stream.mjpg' || route === '/no-such-page') continue;
      const body = method === 'PATCH' ? JSON.stringify({ 'decision.topK': 3 }) : undefined;
      const res = await fetch(d.base + route, { method, body, headers: { ...d.authHeaders, 'Content-Type': 'application/json' } });
      assert.equal(res.status, 200, `${method} ${route} with the token: ${res.status}`);
      await res.arrayBuffer();
    }
    const basic = 'Basic ' + Buffer.from(`viewer:${d.token}`).toString('base64');
    const mjpeg = await readMjpeg(d.base + '/stream.mjpg', { Authorization: basic }, 3);
    assert.match(mjpeg.contentType, /^multipart\/x-mixed-replace; boundary=/);
    assert.equal(mjpeg.jpegs.length, 3);
    for (const jpeg of mjpeg.jpegs) assert.equal(jpeg.readUInt16BE(0), 0xffd8);
    assert.ok(mjpeg.seqs[0] < mjpeg.seqs[1] && mjpeg.seqs[1] < mjpeg.seqs[2], `MJPEG sequence ${mjpeg.seqs}`);
  });

  it('signs in with the login form or the printed URL and then works by session cookie (also for MJPEG)', async () => {
    const wrong = await fetch(d.base + '/login', { method: 'POST', body: new URLSearchParams({ token: 'nope', next: '/' }), redirect: 'manual' });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /not right/);
    const form = await fetch(d.base + '/login', { method: 'POST', body: new URLSearchParams({ token: d.token, next: '/api/status' }), redirect: 'manual' });
    assert.equal(form.status, 303);
    assert.equal(form.headers.get('location'), '/api/status');
    const setCookie = form.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^edgesight_session=/);
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Lax/i);
    assert.ok(!setCookie.includes(d.token), 'the cookie carries the token itself');
    const cookie = setCookie.split(';')[0];
    assert.equal((await fetch(d.base + '/api/status', { headers: { Cookie: cookie } })).status, 200);
    const mjpeg = await readMjpeg(d.base + '/stream.mjpg', { Cookie: cookie }, 1);
    assert.equal(mjpeg.jpegs.length, 1);

    const offSite = await fetch(d.base + '/login', { method: 'POST', body: new URLSearchParams({ token: d.token, next: '//evil.example/' }), redirect: 'manual' });
    assert.equal(offSite.headers.get('location'), '/', 'login redirected off-site');
    const printed = await fetch(`${d.base}/?token=${d.token}`, { redirect: 'manual' });
    assert.equal(printed.status, 303);
    assert.equal(printed.headers.get('location'), '/', 'the token stays in the address bar');
    assert.match(printed.headers.get('set-cookie') ?? '', /^edgesight_session=/);
  });

  it('sets security headers: CSP without inline scripts, no-sniff, no framing', async () => {
    const res = await fetch(d.base + '/', { headers: d.authHeaders });
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.ok(!csp.includes('unsafe-inline'), csp);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(await res.text(), /<canvas id="frame"/);
  });

  it('reports status, model, predictions (latest, since, limit) from the running pipeline', async () => {
    const askedAt = Date.now();
    const status = await json(fetch(d.base + '/api/status', { headers: d.authHeaders }));
    const answeredAt = Date.now();
    assert.equal(status.source.state, 'open');
    assert.match(status.source.description, /digits-30fps\.avi/);
    assert.equal(status.model.name, 'edgesight-digits');
    // model.backend auto: the engine that was faster at load, with both times.
    const timed = /^(opencv|tfjs) \(auto: opencv ([\d.]+) ms \([^)]*\), tfjs ([\d.]+) ms per inference/.exec(status.engine);
    assert.ok(timed, status.engine);
    if (Number(timed[2]) !== Number(timed[3])) assert.equal(timed[1], Number(timed[2]) < Number(timed[3]) ? 'opencv' : 'tfjs', `not the faster: ${status.engine}`);
    assert.ok(status.fps > 20, `fps ${status.fps}`);
    for (const stage of ['read', 'preprocess', 'infer']) assert.ok(status.stageMs[stage] > 0, stage);
    assert.ok(status.frames.classified > 0 && status.tensors > 0);
    const uptimeRange = [Math.floor((askedAt - startedBy) / 1000), Math.ceil((answeredAt - startCalledAt) / 1000)];
    assert.ok(Number.isInteger(status.uptimeSeconds) && status.uptimeSeconds >= uptimeRange[0] && status.uptimeSeconds <= uptimeRange[1], `uptime ${status.uptimeSeconds} s, expected within ${uptimeRange}`);
    assert.ok('cpuTemperatureC' in status);
    assert.deepEqual(status.clients, { live: 0, mjpeg: 0 });

    const model = await json(fetch(d.base + '/api/model', { headers: d.authHeaders }));
    assert.deepEqual(model.labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(model.input, { width: 28, height: 28, channels: 1 });
    // `training` is the trainer's report itself, not the whole of metadata.json's unread fields.
    assert.match(model.training.architecture, /^conv24/);
    assert.ok(model.training.metrics.mnistValidationAccuracy > 0.9, JSON.stringify(model.training.metrics));
    assert.equal(model.training.training, undefined);
    assert.deepEqual(model.otherMetadata, {});

    await waitUntil('30 classified frames', () => d.daemon.pipeline!.stats.classified >= 30);
    const latest = await json(fetch(d.base + '/api/predictions/latest', { headers: d.authHeaders }));
    assert.ok(latest.seq > 0 && typeof latest.label === 'string');
    const page = await json(fetch(`${d.base}/api/predictions?since=${latest.seq - 20}&limit=5`, { headers: d.authHeaders }));
    assert.ok(Array.isArray(page.items), JSON.stringify(page));
    assert.equal(page.items.length, 5);
    const seqs = page.items.map((p: { seq: number }) => p.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'oldest first');
    assert.ok(seqs[0] > latest.seq - 20);
    const later = await json(fetch(`${d.base}/api/predictions?since=${page.latestSeq}`, { headers: d.authHeaders }));
    assert.ok(later.items.every((p: { seq: number }) => p.seq > page.latestSeq));
    for (const bad of ['since=-1', 'limit=0', 'limit=abc', `limit=${page.capacity + 1}`]) {
      const res = await fetch(`${d.base}/api/predictions?${bad}`, { headers: d.authHeaders });
      assert.equal(res.status, 400, bad);
      assert.match((await json(res)).error, new RegExp(bad.split('=')[0]));
    }
  });

  it('changes runtime settings through PATCH /api/settings, checked by the config schema', async () => {
    const patch = (body: string, headers: Record<string, string> = {}) =>
      fetch(d.base + '/api/settings', { method: 'PATCH', body, headers: { ...d.authHeaders, 'Content-Type': 'application/json', ...headers } });
    const res = await patch(JSON.stringify({ decision: { threshold: 1 }, 'overlay.enabled': false }));
    assert.equal(res.status, 200);
    const settings = await json(res);
    assert.equal(settings['decision.threshold'], 1);
    assert.equal(settings['overlay.enabled'], false);
    // A threshold of 1 makes every later decision "uncertain".
    const seqNow = d.daemon.pipeline!.latest!.seq;
    await waitUntil('decisions under the new threshold', () => d.daemon.pipeline!.latest!.seq > seqNow + 5);
    assert.equal(d.daemon.pipeline!.latest!.decision.label, 'uncertain');
    assert.equal((await patch(JSON.stringify({ 'decision.threshold': 0.5, 'overlay.enabled': true }))).status, 200);

    const refused: Array<[string, number, RegExp]> = [
      [JSON.stringify({ 'decision.threshold': 1.5 }), 400, /decision\.threshold = 1\.5 is not allowed: must be a number from 0 to 1/],
      [JSON.stringify({ 'decision.treshold': 0.4 }), 400, /'decision\.treshold' is not a setting \(did you mean 'decision\.threshold'\?\)/],
      [JSON.stringify({ 'model.path': '/tmp' }), 400, /'model\.path' cannot change while running/],
      [JSON.stringify({ 'decision.smoothing': 'median' }), 400, /one of none, average, vote/],
      ['[1, 2]', 400, /expected a JSON object/],
      ['{"decision.threshold": ', 400, /malformed JSON/],
      [JSON.stringify({ 'decision.threshold': 0.5, pad: 'x'.repeat(20_000) }), 413, /too large/],
    ];
    for (const [body, status, message] of refused) {
      const r = await patch(body);
      assert.equal(r.status, status, body.slice(0, 60));
      assert.match((await json(r)).error, message);
    }
    const foreign = await patch(JSON.stringify({ 'decision.threshold': 0.1 }), { Origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    const now = await json(fetch(d.base + '/api/settings', { headers: d.authHeaders }));
    assert.equal(now['decision.threshold'], 0.5, 'a refused change was applied');
    // The daemon kept serving through all of it.
    const seq = d.daemon.pipeline!.latest!.seq;
    await waitUntil('frames still flowing', () => d.daemon.pipeline!.latest!.seq > seq);
    assert.equal((await fetch(d.base + '/healthz')).status, 200);
  });

  it('exports Prometheus metrics that follow the pipeline', async () => {
    const read = async () => (await fetch(d.base + '/metrics', { headers: d.authHeaders })).text();
    const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    const first = await read();
    for (const name of ['edgesight_frames_captured_total', 'edgesight_frames_classified_total', 'edgesight_frames_dropped_total', 'edgesight_inference_seconds_count', 'process_resident_memory_bytes']) {
      assert.ok(Number.isFinite(value(first, name)), `${name} missing`);
    }
    assert.match(first, /# TYPE edgesight_inference_seconds histogram/);
    assert.match(first, /edgesight_model_info\{name="edgesight-digits",version="[^"]+",backend="\w+"\} 1/);
    assert.match(first, /edgesight_clients\{kind="live"\} 0/);
    await sleep(500);
    const second = await read();
    assert.ok(value(second, 'edgesight_frames_classified_total') > value(first, 'edgesight_frames_classified_total'));
    assert.ok(value(second, 'edgesight_inference_seconds_count') > value(first, 'edgesight_inference_seconds_count'));
  });

  it('takes a snapshot even when nobody is watching', async () => {
    const res = await fetch(d.base + '/snapshot.jpg', { headers: d.authHeaders });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    const jpeg = Buffer.from(await res.arrayBuffer());
    assert.equal(jpeg.readUInt16BE(0), 0xffd8);
  });

  it('answers malformed requests with 4xx and keeps serving', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(d.base).port), '127.0.0.1', () => socket.end('GARBAGE / NOT-HTTP\r\n\r\n'));
      let reply = '';
      socket.on('data', (c) => (reply += c.toString()));
      socket.on('end', () => resolve(reply));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400/);
    const badEscape = await fetch(d.base + '/%E0%A4%A', { headers: d.authHeaders });
    assert.equal(badEscape.status, 404, 'a path that does not decode names no file: not found');
    const hugeHeader = await requestFrom('127.0.0.200', d.base + '/api/status', { headers: { ...d.authHeaders, 'X-Filler': 'x'.repeat(20_000) } });
    assert.equal(hugeHeader.status, 431);
    const seq = d.daemon.pipeline!.latest!.seq;
    await waitUntil('frames still flowing', () => d.daemon.pipeline!.latest!.seq > seq);
    assert.equal((await fetch(d.base + '/api/status', { headers: d.authHeaders })).status, 200);
  });

  it('limits failed sign-ins per address, even for the right token afterwards', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await fetch(d.base + '/api/status', { headers: { Authorization: `Bearer guess-${i}` } });
      assert.equal(res.status, 401);
    }
    const blocked = await fetch(d.base + '/api/status', { headers: d.authHeaders });
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    assert.equal((await fetch(d.base + '/healthz')).status, 200, '/healthz stays open');
  });
});

describe('HTTP routes when the source ends', function () {
  this.timeout(60_000);
  it('/healthz says down once frames stop flowing, and says nothing else', async () => {
    const d = await startTestDaemon({ 'file.loop': false });
    try {
      await waitUntil('first frame', () => d.daemon.pipeline?.latest);
      const up = await fetch(d.base + '/healthz');
      assert.equal(up.status, 200);
      assert.deepEqual(await json(up), { status: 'up' });
      // The 4 s clip ends; health turns down 5 s after the last classified frame.
      await waitUntil('health down', async () => (await fetch(d.base + '/healthz')).status === 503, 20_000);
      assert.deepEqual(await json(fetch(d.base + '/healthz')), { status: 'down' });
      const status = await json(fetch(d.base + '/api/status', { headers: d.authHeaders }));
      assert.equal(status.source.state, 'ended');
    } finally {
      await d.stop();
    }
  });
});

describe('other access modes', function () {
  this.timeout(60_000);

  it('server.auth = password takes the configured password (and refuses a short one at start)', async () => {
    const d = await startTestDaemon({ 'server.auth': 'password', 'server.password': 'a long enough password' });
    try {
      assert.equal((await fetch(d.base + '/api/status')).status, 401);
      assert.equal((await fetch(d.base + '/api/status', { headers: { Authorization: 'Bearer a long enough password' } })).status, 200);
      assert.ok(!fs.existsSync(path.join(d.stateDir, 'token')), 'a token was generated in password mode');
    } finally {
      await d.stop();
    }
    await assert.rejects(startTestDaemon({ 'server.auth': 'password', 'server.password': 'short' }), /server\.password: .*at least 8 characters/);
  });

  it('server.auth = none serves without a secret', async () => {
    const d = await startTestDaemon({ 'server.auth': 'none' });
    try {
      assert.equal((await fetch(d.base + '/api/status')).status, 200);
      assert.equal((await fetch(d.base + '/')).status, 200);
    } finally {
      await d.stop();
    }
  });

  it('names the port when it is already taken', async () => {
    const d = await startTestDaemon();
    try {
      await assert.rejects(startTestDaemon({ 'server.port': Number(new URL(d.base).port) }), /server\.port: \d+ on 127\.0\.0\.1 is already in use/);
    } finally {
      await d.stop();
    }
  });
});
