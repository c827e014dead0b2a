import { strict as assert } from 'node:assert';
import { clipTruth, startTestDaemon, sleep, waitUntil, type TestDaemon } from '../helpers/daemon';
import { LiveClient } from '../helpers/live-client';

describe('socket.io live channel (real daemon, real clip, real clients)', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  const clients: LiveClient[] = [];
  const client = (auth: Record<string, unknown>, ackDelayMs = 0, headers?: Record<string, string>) => {
    const c = new LiveClient(d.base, auth, ackDelayMs, headers);
    clients.push(c);
    return c;
  };

  before(async () => {
    d = await startTestDaemon();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await d?.stop();
  });

  it('sends annotated JPEG frames as binary, in order, each with its prediction and timings', async () => {
    const c = client({ token: d.token });
    await c.connected();
    await waitUntil('20 frames', () => c.frames.length >= 20);
    const hello = c.hello as { model: { labels: string[] }; source: { state: string }; settings: Record<string, unknown>; backend: string };
    assert.equal(hello.model.labels.length, 10);
    assert.equal(hello.source.state, 'open');
    assert.equal(hello.settings['decision.threshold'], 0.5);
    assert.ok(['wasm', 'tensorflow', 'cpu'].includes(hello.backend));
    const seqs = c.frames.map((f) => f.meta.seq);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `sequence goes back at ${i}: ${seqs.slice(0, i + 1)}`);
    let correct = 0;
    for (const f of c.frames) {
      assert.ok(Buffer.isBuffer(f.jpeg), 'frame is binary, not base64 text');
      assert.equal(f.jpeg.readUInt16BE(0), 0xffd8, 'frame is a JPEG');
      assert.ok(f.jpeg.length > 5000, `JPEG of ${f.jpeg.length} bytes is too small for 640x480`);
      assert.ok(hello.model.labels.includes(f.meta.label) || f.meta.label === 'uncertain');
      assert.equal(f.meta.topk.length, 3);
      assert.ok(f.meta.capturedAt <= f.meta.decidedAt && f.meta.decidedAt <= f.meta.sentAt && f.meta.sentAt <= f.receivedAt);
      assert.ok(f.meta.timings.infer > 0 && f.meta.timings.encode > 0, JSON.stringify(f.meta.timings));
      if (f.meta.label === clipTruth(f.meta.seq)) correct++;
    }
    assert.ok(correct >= 0.8 * c.frames.length, `${correct} of ${c.frames.length} frames labelled with the scene's digit`);
    const latencies = c.frames.map((f) => f.receivedAt - f.meta.capturedAt).sort((a, b) => a - b);
    assert.ok(latencies[Math.floor(latencies.length / 2)] < 200, `median capture-to-client latency ${latencies[Math.floor(latencies.length / 2)]} ms`);
  });

  it('a slow client gets fewer frames but delays neither a fast client nor the pipeline', async () => {
    const fast = client({ token: d.token });
    const slow = client({ token: d.token }, 1000);
    await Promise.all([fast.connected(), slow.connected()]);
    const stats = d.daemon.pipeline!.stats;
    const classifiedBefore = stats.classified;
    await sleep(3000);
    const classified = stats.classified - classifiedBefore;
    // The clip plays at 30 fps: about 90 frames classified in 3 s whatever the viewers do.
    assert.ok(classified >= 75, `pipeline classified only ${classified} frames in 3 s`);
    assert.ok(fast.frames.length >= 0.8 * classified, `fast client got ${fast.frames.length} of ${classified} classified frames`);
    assert.ok(slow.frames.length >= 2 && slow.frames.length <= 4, `slow client got ${slow.frames.length} frames in 3 s at one ack per second`);
    assert.equal(slow.overlapping, 0, 'the slow client was sent a frame before it acknowledged the last');
    assert.equal(fast.overlapping, 0);
  });

  it('encodes nothing for viewers while nobody watches, and starts when someone does', async () => {
    await sleep(300);
    const stats = d.daemon.pipeline!.stats;
    const encodedIdle = stats.encoded;
    await sleep(1000);
    assert.equal(stats.encoded, encodedIdle, 'frames were encoded with no viewer');
    const c = client({ token: d.token });
    await c.connected();
    await waitUntil('frames for the new viewer', () => c.frames.length >= 5);
    assert.ok(stats.encoded > encodedIdle);
    c.close();
    await sleep(300);
    const encodedAfter = stats.encoded;
    await sleep(800);
    assert.equal(stats.encoded, encodedAfter, 'encoding went on after the viewer left');
  });

  it('a paused client receives nothing until it resumes', async () => {
    const c = client({ token: d.token });
    await c.connected();
    await waitUntil('first frames', () => c.frames.length >= 3);
    c.socket.emit('pause');
    await sleep(300);
    const held = c.frames.length;
    await sleep(700);
    assert.ok(c.frames.length <= held + 1, `got ${c.frames.length - held} frames while paused`);
    c.socket.emit('resume');
    await waitUntil('frames after resume', () => c.frames.length >= held + 5);
  });

  it('sends predictions without pictures to clients that ask only for them, and encodes nothing for them', async () => {
    const c = client({ token: d.token, frames: false, predictions: true });
    const predictions: Array<{ seq: number; label: string }> = [];
    c.socket.on('prediction', (p) => predictions.push(p));
    await c.connected();
    const encoded = d.daemon.pipeline!.stats.encoded;
    await sleep(1000);
    assert.ok(predictions.length >= 20, `${predictions.length} predictions in 1 s`);
    assert.equal(c.frames.length, 0);
    assert.equal(d.daemon.pipeline!.stats.encoded, encoded);
  });

  it('sends status on connect and then every second', async () => {
    const c = client({ token: d.token });
    const statuses: Array<{ at: number; fps: number; clients: { live: number }; frames: { classified: number } }> = [];
    c.socket.on('status', (s) => statuses.push({ ...s, at: Date.now() }));
    await c.connected();
    const connectedAt = Date.now();
    await waitUntil('three status events', () => statuses.length >= 3, 5000);
    const [first, second, third] = statuses;
    assert.ok(first.at - connectedAt < 300, `the first status came ${first.at - connectedAt} ms after connecting, not on connect`);
    assert.ok(third.fps > 20, `fps ${third.fps}`);
    assert.equal(first.clients.live, 1);
    assert.ok(third.frames.classified > first.frames.classified);
    const gap = third.at - second.at;
    assert.ok(gap > 700 && gap < 1300, `status events ${gap} ms apart`);
  });

  it('drops a client that sends an oversize message and keeps serving the others', async () => {
    const bystander = client({ token: d.token });
    const offender = client({ token: d.token });
    await Promise.all([bystander.connected(), offender.connected()]);
    const dropped = new Promise<string>((resolve) => offender.socket.once('disconnect', resolve));
    offender.socket.emit('pause', 'x'.repeat(100_000));
    assert.equal(await dropped, 'transport close');
    const had = bystander.frames.length;
    await waitUntil('bystander frames', () => bystander.frames.length >= had + 10);
    assert.ok(bystander.socket.connected);
  });

  it('refuses clients beyond server.maxViewers', async () => {
    const small = await startTestDaemon({ 'server.maxViewers': 2 });
    try {
      const a = new LiveClient(small.base, { token: small.token });
      const b = new LiveClient(small.base, { token: small.token });
      clients.push(a, b);
      await Promise.all([a.connected(), b.connected()]);
      const c = new LiveClient(small.base, { token: small.token });
      clients.push(c);
      await assert.rejects(c.connected(), /too many viewers \(server\.maxViewers = 2 /);
    } finally {
      for (const c of clients.splice(0)) c.close();
      await small.stop();
    }
  });

  it('refuses a handshake without the token, with a wrong one, and from a foreign origin', async () => {
    await assert.rejects(client({}).connected(), /unauthorized/);
    await assert.rejects(client({ token: 'not-the-token' }).connected(), /wrong token/);
    await assert.rejects(client({ token: d.token }, 0, { Origin: 'http://evil.example' }).connected(), /websocket error/);
    // A WebSocket client cannot read why its upgrade was refused; the polling handshake says it.
    const refused = await fetch(d.base + '/socket.io/?EIO=4&transport=polling', { headers: { Origin: 'http://evil.example', Authorization: `Bearer ${d.token}` } });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { message: string }).message, 'origin http://evil.example is not allowed (server.allowedOrigins)');
    // The same client from the dashboard's own origin is let in.
    await client({ token: d.token }, 0, { Origin: d.base }).connected();
  });
});
