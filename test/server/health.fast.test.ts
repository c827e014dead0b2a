import { strict as assert } from 'node:assert';
import { allowedGapMs } from '../../src/pipeline/liveness';
import { startStubServer, type StubServer } from '../helpers/stub-daemon';

async function health(s: StubServer): Promise<{ status: number; body: unknown }> {
  const res = await fetch(s.base + '/healthz');
  return { status: res.status, body: await res.json() };
}

describe('/healthz: frames flowing, judged as the watchdog judges them (real server, stub daemon)', () => {
  let s: StubServer;
  beforeEach(async () => (s = await startStubServer()));
  afterEach(async () => s.stop());

  it('is down before the first frame and up right after one, without a secret', async () => {
    assert.deepEqual(await health(s), { status: 503, body: { status: 'down' } });
    s.daemon.publish();
    assert.deepEqual(await health(s), { status: 200, body: { status: 'up' } });
  });

  it('is down once a camera-paced source has been silent for 5 s', async () => {
    s.daemon.publish(Date.now() - 5_500);
    assert.equal((await health(s)).status, 503);
  });

  it('stays up through a slow slideshow gap (images.fps 0.1: a frame every 10 s) and goes down after three missed frames', async () => {
    s.daemon.paceFps = 0.1;
    s.daemon.publish(Date.now() - 12_000);
    assert.equal((await health(s)).status, 200, 'a slideshow between two pictures was called down');
    s.daemon.publish(Date.now() - 31_000);
    assert.equal((await health(s)).status, 503);
    assert.equal(allowedGapMs(0.1), 30_000);
  });
});
