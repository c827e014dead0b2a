import { strict as assert } from 'node:assert';
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { whenConnected } from '../../src/bench/viewer';
import { requestFrom, sleep, startTestDaemon, type PlainResponse, type TestDaemon } from '../helpers/daemon';
import { LiveClient } from '../helpers/live-client';

const HANDSHAKES = 2000;

describe('socket.io handshakes and origins (real daemon, real HTTP and engine.io)', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  const sockets: Array<{ close(): unknown }> = [];
  before(async () => {
    d = await startTestDaemon({ 'server.allowedOrigins': 'https://cam.example.org' });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });
  after(async () => {
    await d?.stop();
  });

  /** A socket.io client over WebSocket from a chosen loopback address (engine.io-client passes localAddress to ws). */
  const connectFrom = (localAddress: string, auth: Record<string, unknown>, extraHeaders?: Record<string, string>) => {
    const options = { auth, extraHeaders, transports: ['websocket'], reconnection: false, forceNew: true, localAddress } as Partial<ManagerOptions & SocketOptions>;
    const socket = io(d.base, options);
    sockets.push(socket);
    return whenConnected(socket);
  };

  it('refuses unauthenticated polling handshakes beyond a small budget, without a session id, and lets signed-in clients in', async () => {
    const url = `${d.base}/socket.io/?EIO=4&transport=polling`;
    // A measurement for the report, not a pass mark (run mocha with --expose-gc for steadier
    // numbers): the daemon shares this process, so start-up garbage is collected first.
    const gc = (globalThis as { gc?: () => void }).gc;
    const settle = async () => {
      gc?.();
      await sleep(500);
      gc?.();
      return process.memoryUsage();
    };
    const before = await settle();
    const answers: PlainResponse[] = [];
    for (let i = 0; i < HANDSHAKES; i += 50) answers.push(...(await Promise.all(Array.from({ length: 50 }, () => requestFrom('127.0.0.2', url)))));
    const after = await settle();
    const mb = (bytes: number) => `${bytes >= 0 ? '+' : ''}${(bytes / 1048576).toFixed(1)} MB`;
    console.log(`      ${HANDSHAKES} unauthenticated polling handshakes: RSS ${mb(after.rss - before.rss)}, heap ${mb(after.heapUsed - before.heapUsed)}${gc ? ' (after gc)' : ''}`);

    // As many as could sign in at once (server.maxViewers, 16 by default) may wait for the auth payload.
    const withSid = answers.filter((a) => a.text.includes('"sid"'));
    assert.ok(withSid.length <= 16, `${withSid.length} of ${HANDSHAKES} handshakes without credentials got a session id`);
    const refused = answers.filter((a) => a.status === 403);
    assert.equal(refused.length, HANDSHAKES - withSid.length);
    for (const r of refused) assert.ok(!r.text.includes('sid'), r.text);

    // From the same address: the token as Bearer opens a session at once...
    const bearer = await requestFrom('127.0.0.2', url, { headers: d.authHeaders });
    assert.equal(bearer.status, 200);
    assert.match(bearer.text, /"sid":"/);
    // ...and a live client with the token in its headers connects.
    await connectFrom('127.0.0.2', {}, d.authHeaders);
    // Only the token in the auth payload, which comes after the handshake, waits for the budget...
    await assert.rejects(connectFrom('127.0.0.2', { token: d.token }));
    // ...which is per address: another client with it connects as documented.
    const other = new LiveClient(d.base, { token: d.token });
    sockets.push(other);
    await other.connected();
    // A wrong token is refused at the handshake, with no session id.
    const wrong = await requestFrom('127.0.0.3', url, { headers: { Authorization: 'Bearer not-the-token' } });
    assert.equal(wrong.status, 403);
    assert.ok(!wrong.text.includes('sid'), wrong.text);
  });

  it('counts the scheme in the origin check: https:// is not the same origin as this http:// server', async () => {
    const patch = (origin: string, host?: string) =>
      requestFrom('127.0.0.4', d.base + '/api/settings', {
        method: 'PATCH',
        body: JSON.stringify({ 'decision.topK': 3 }),
        headers: { ...d.authHeaders, 'Content-Type': 'application/json', Origin: origin, ...(host ? { Host: host } : {}) },
      });
    const own = new URL(d.base).host;
    assert.equal((await patch(`https://${own}`)).status, 403);
    assert.equal((await patch(`http://${own}`)).status, 200);
    // Behind a TLS reverse proxy the configured origin still passes.
    assert.equal((await patch('https://cam.example.org', 'cam.example.org')).status, 200);

    const foreign = new LiveClient(d.base, { token: d.token }, 0, { Origin: `https://${own}` });
    sockets.push(foreign);
    await assert.rejects(foreign.connected());
    const same = new LiveClient(d.base, { token: d.token }, 0, { Origin: `http://${own}` });
    sockets.push(same);
    await same.connected();
  });
});
