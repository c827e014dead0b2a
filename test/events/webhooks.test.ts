import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { json, waitUntil, type TestDaemon } from '../helpers/daemon';
import { capturingLogger, freePort, startEventsDaemon } from '../helpers/mosquitto';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A real HTTP server on loopback whose answer the test chooses per request. */
async function target(answer: (n: number, res: http.ServerResponse) => void): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body, at: Date.now() });
      answer(got.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/path-secret`;
  return {
    url,
    got,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const SECRET = 'webhook-test-secret';

describe('webhooks (real HTTP targets on loopback)', function () {
  this.timeout(60_000);
  let d: TestDaemon | undefined;
  const closers: Array<() => Promise<void>> = [];

  afterEach(async () => {
    await d?.stop();
    d = undefined;
    for (const close of closers.splice(0)) await close();
  });

  it('POSTs each event start and end as JSON signed with HMAC-SHA256, the snapshot on end when asked', async () => {
    const ok = await target((_n, res) => res.writeHead(204).end());
    closers.push(ok.close);
    d = await startEventsDaemon({ 'webhooks.urls': ok.url, 'webhooks.secret': SECRET, 'webhooks.snapshot': true });
    await waitUntil('an end post', () => ok.got.some((r) => r.headers['x-edgesight-event'] === 'end'), 20_000);
    for (const r of ok.got) {
      assert.equal(r.headers['content-type'], 'application/json');
      const expected = `sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`;
      assert.equal(r.headers['x-edgesight-signature'], expected, 'signature over the exact body');
      const body = JSON.parse(r.body);
      assert.equal(body.phase, r.headers['x-edgesight-event']);
      assert.match(body.event.id, /^ev-/);
      assert.match(body.event.label, /^[0-9]$/);
    }
    const end = JSON.parse(ok.got.find((r) => r.headers['x-edgesight-event'] === 'end')!.body);
    assert.equal(end.event.end >= end.event.start, true);
    const jpeg = Buffer.from(end.snapshot.base64, 'base64');
    assert.deepEqual([jpeg[0], jpeg[1]], [0xff, 0xd8], 'the snapshot is a JPEG');
    const start = ok.got.find((r) => r.headers['x-edgesight-event'] === 'start' && JSON.parse(r.body).event.id === end.event.id);
    assert.ok(start, 'no start POST for the event that ended');
    assert.equal(JSON.parse(start.body).snapshot, undefined, 'no snapshot on start');
  });

  it('a target that hangs, one that refuses and one that answers 500 fail alone: a healthy one gets every post, failures and drops show in status, metrics and the log, frames flow', async () => {
    const hang = await target(() => undefined);
    const fail = await target((_n, res) => res.writeHead(500).end('no'));
    const flaky = await target((n, res) => res.writeHead(n === 1 ? 503 : 200).end());
    const ok = await target((_n, res) => res.writeHead(200).end());
    closers.push(hang.close, fail.close, flaky.close, ok.close);
    const refused = `http://127.0.0.1:${await freePort()}/`;
    const { log, lines } = capturingLogger();
    const urls = [hang.url, refused, fail.url, flaky.url, ok.url];
    d = await startEventsDaemon({ 'webhooks.urls': urls.join(','), 'webhooks.secret': SECRET, 'webhooks.timeoutSeconds': 0.5, 'webhooks.retries': 1, 'webhooks.queueSize': 2 }, log);
    const status = () => json(fetch(`${d!.base}/api/status`, { headers: d!.authHeaders }));
    const first = await status();
    // The hanging target's failure is counted only after its retry has timed out too (twice
    // 500 ms plus the back-off), which can come after the healthy target's tenth post.
    const s = await waitUntil(
      'ten posts at the healthy target, and a failure counted at each failing one',
      async () => {
        const now = await status();
        const [hanging, refusing, failing] = now.integrations.webhooks;
        return ok.got.length >= 10 && hanging.failed >= 1 && refusing.failed >= 1 && failing.failed >= 1 && now;
      },
      30_000,
    );
    const [h, r, f, fl, good] = s.integrations.webhooks;
    assert.ok(s.frames.classified > first.frames.classified + 60, 'frames keep flowing');
    assert.equal(good.failed, 0);
    assert.equal(good.dropped, 0);
    assert.equal(good.delivered, ok.got.length);
    assert.match(h.lastError, /no answer within 500 ms/, JSON.stringify(h));
    assert.ok(h.dropped >= 1, `the hanging target's queue (2) overflowed: ${JSON.stringify(h)}`);
    assert.ok(h.queued <= 2);
    assert.match(r.lastError, /ECONNREFUSED/, JSON.stringify(r));
    assert.equal(f.lastError, 'HTTP 500', JSON.stringify(f));
    const attempts = new Map<string, number>();
    for (const g of fail.got) attempts.set(g.body, (attempts.get(g.body) ?? 0) + 1);
    assert.ok([...attempts.values()].every((n) => n <= 2) && [...attempts.values()].some((n) => n === 2), `a 500 is retried once (webhooks.retries 1): ${[...attempts.values()]}`);
    assert.equal(fl.failed, 0, 'a 503 then 200 is delivered on the retry');
    assert.equal(flaky.got[0].body, flaky.got[1].body, 'the retry sends the same body');
    // Targets are named by origin only: a hook's path may be its secret.
    assert.ok(!JSON.stringify(s).includes('path-secret'));
    assert.ok(!JSON.stringify(s).includes(SECRET));
    const metrics = await (await fetch(`${d.base}/metrics`, { headers: d.authHeaders })).text();
    assert.match(metrics, /^edgesight_webhook_deliveries_total\{target="#3 http:\/\/127\.0\.0\.1:\d+",outcome="failed"\} [1-9]/m);
    assert.match(metrics, /^edgesight_webhook_deliveries_total\{target="#1 http:\/\/127\.0\.0\.1:\d+",outcome="dropped"\} [1-9]/m);
    assert.ok(lines.some((l) => /^webhook #2 http:\/\/127\.0\.0\.1:\d+: delivery failed \(ECONNREFUSED\)$/.test(String(l.msg))), 'the log names the target and why');
    assert.ok(!lines.some((l) => JSON.stringify(l).includes(SECRET) || JSON.stringify(l).includes('path-secret')), 'no secret in the log');
  });
});
