import { strict as assert } from 'node:assert';
import { LiveClient } from '../helpers/live-client';
import { startStubServer, type StubServer } from '../helpers/stub-daemon';
import { waitUntil } from '../helpers/daemon';

/** Status of GET /stream.mjpg, the stream closed as soon as its head arrives. */
async function mjpegStatus(base: string, headers: Record<string, string>): Promise<{ status: number; close(): void; error?: string }> {
  const controller = new AbortController();
  const res = await fetch(base + '/stream.mjpg', { headers, signal: controller.signal });
  const error = res.status === 200 ? undefined : ((await res.json()) as { error: string }).error;
  return { status: res.status, error, close: () => controller.abort() };
}

describe('server.maxViewers: one admission rule for live clients and MJPEG streams (real server, stub daemon)', () => {
  let s: StubServer;
  const clients: LiveClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await s?.stop();
  });

  it('counts prediction-only live clients against the MJPEG door, and MJPEG streams against the live door', async () => {
    s = await startStubServer({ 'server.maxViewers': 2 });
    const a = new LiveClient(s.base, { token: s.token, frames: false, predictions: true });
    const b = new LiveClient(s.base, { token: s.token, frames: false });
    clients.push(a, b);
    await Promise.all([a.connected(), b.connected()]);
    const full = await mjpegStatus(s.base, s.authHeaders);
    assert.equal(full.status, 503);
    assert.equal(full.error, 'too many viewers (server.maxViewers = 2 live-channel clients and MJPEG streams together)');

    b.close();
    // Once the server has seen b leave, a stream gets its seat and keeps it.
    const stream = await waitUntil('a stream admitted in the seat b gave back', async () => {
      const attempt = await mjpegStatus(s.base, s.authHeaders);
      return attempt.status === 200 ? attempt : undefined;
    });
    const c = new LiveClient(s.base, { token: s.token });
    clients.push(c);
    await assert.rejects(c.connected(), /^Error: too many viewers \(server\.maxViewers = 2 live-channel clients and MJPEG streams together\)$/);
    stream.close();
  });

  it('gives a refused client no seat, and refuses no snapshot for want of one', async () => {
    s = await startStubServer({ 'server.maxViewers': 1 });
    const a = new LiveClient(s.base, { token: s.token });
    clients.push(a);
    await a.connected();
    const refused = new LiveClient(s.base, { token: s.token });
    clients.push(refused);
    await assert.rejects(refused.connected(), /too many viewers/);
    a.close();
    await waitUntil('a seat for the next client', async () => {
      const next = new LiveClient(s.base, { token: s.token });
      clients.push(next);
      return next.connected().then(
        () => true,
        () => false,
      );
    });
    const snapshot = fetch(s.base + '/snapshot.jpg', { headers: s.authHeaders });
    await waitUntil('the snapshot waiting for a frame', () => s.daemon.jpegHolders > 0);
    s.daemon.publish();
    assert.equal((await snapshot).status, 200, 'a snapshot needs no seat');
  });
});
