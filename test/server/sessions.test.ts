import { strict as assert } from 'node:assert';
import { rotateToken } from '../../src/server/token-store';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { LiveClient } from '../helpers/live-client';

/** Signs in with the login form and returns the session cookie as a Cookie header value. */
async function signIn(d: TestDaemon): Promise<string> {
  const res = await fetch(d.base + '/login', { method: 'POST', body: new URLSearchParams({ token: d.token, next: '/' }), redirect: 'manual' });
  assert.equal(res.status, 303);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  assert.match(cookie, /^edgesight_session=./);
  return cookie;
}

const statusWith = async (d: TestDaemon, cookie?: string) => (await fetch(d.base + '/api/status', { headers: cookie ? { Cookie: cookie } : {} })).status;

describe('sessions end on the server (real daemon, real HTTP and socket.io)', function () {
  this.timeout(120_000);
  const daemons: TestDaemon[] = [];
  const clients: LiveClient[] = [];
  const start = async (overrides: Record<string, unknown> = {}) => {
    const d = await startTestDaemon(overrides);
    daemons.push(d);
    return d;
  };
  const client = (d: TestDaemon, cookie: string) => {
    const c = new LiveClient(d.base, {}, 0, { Cookie: cookie });
    clients.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const d of daemons.splice(0)) await d.stop();
  });

  it('refuses a signed-out cookie on an authenticated route (401) and on a socket.io connect', async () => {
    const d = await start();
    // 401 is what /api/status answers without any session; the signed-out cookie must get the same.
    assert.equal(await statusWith(d), 401);
    const cookie = await signIn(d);
    const copy = cookie; // what another tab, or someone who copied the cookie, still holds
    assert.equal(await statusWith(d, cookie), 200);
    await client(d, cookie).connected();

    const other = await signIn(d);
    const out = await fetch(d.base + '/logout', { method: 'POST', headers: { Cookie: cookie }, redirect: 'manual' });
    assert.equal(out.status, 303);
    assert.match(out.headers.get('set-cookie') ?? '', /^edgesight_session=;/);

    assert.equal(await statusWith(d, copy), 401);
    await assert.rejects(client(d, copy).connected(), /unauthorized/);
    // Another session, opened before, is untouched by this one's sign-out.
    assert.equal(await statusWith(d, other), 200, 'signing one session out ended another');
  });

  it('keeps a session across a restart but not a signed-out one, and a rotated token ends them all', async () => {
    const first = await start();
    const kept = await signIn(first);
    const ended = await signIn(first);
    await fetch(first.base + '/logout', { method: 'POST', headers: { Cookie: ended }, redirect: 'manual' });
    await first.stop();
    daemons.splice(0);

    const second = await start({ 'state.dir': first.stateDir });
    assert.equal(await statusWith(second, kept), 200, 'a session did not survive the restart');
    assert.equal(await statusWith(second, ended), 401, 'a signed-out session came back after the restart');
    await second.stop();
    daemons.splice(0);

    rotateToken(first.stateDir);
    const third = await start({ 'state.dir': first.stateDir });
    assert.notEqual(third.token, first.token);
    assert.equal(await statusWith(third, kept), 401, 'a session outlived the token it was signed in with');
  });
});
