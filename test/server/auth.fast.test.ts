import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Authenticator } from '../../src/server/auth';
import { FailureLimiter } from '../../src/server/failure-limiter';
import { SESSIONS_FILE, SessionStore } from '../../src/server/session-store';
import { resolveStateDir } from '../../src/server/state-dir';
import { generateToken, loadOrCreateToken, rotateToken } from '../../src/server/token-store';
import { runCli, tempDir } from '../helpers/fixtures';

describe('access token and sessions', () => {
  it('generates the token once, 0600, in a 0700 directory, and reuses it', () => {
    const dir = path.join(tempDir(), 'state');
    const first = loadOrCreateToken(dir);
    assert.equal(first.created, true);
    assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(fs.statSync(first.file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    const second = loadOrCreateToken(dir);
    assert.equal(second.created, false);
    assert.equal(second.token, first.token);
    assert.notEqual(rotateToken(dir).token, first.token);
  });

  it('never begins a token with a dash, which a command line would take for an option', () => {
    // The old generator began one token in 64 with '-': 4,000 draws would all pass it with
    // a chance of about 1e-27.
    for (let i = 0; i < 4000; i++) assert.match(generateToken(), /^[A-Za-z0-9_][A-Za-z0-9_-]{42}$/);
  });

  it('corrects a token file others can read', () => {
    const dir = tempDir();
    const { file } = loadOrCreateToken(dir);
    fs.chmodSync(file, 0o644);
    const again = loadOrCreateToken(dir);
    assert.equal(again.fixedMode, 0o644);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  it('finds the state directory from state.dir, then $STATE_DIRECTORY, then XDG', () => {
    assert.equal(resolveStateDir({ 'state.dir': '/srv/es' }, { STATE_DIRECTORY: '/var/lib/edgesight' }), '/srv/es');
    assert.equal(resolveStateDir({ 'state.dir': '' }, { STATE_DIRECTORY: '/var/lib/edgesight:/var/lib/other' }), '/var/lib/edgesight');
    assert.equal(resolveStateDir({ 'state.dir': '' }, { XDG_STATE_HOME: '/x', HOME: '/home/pi' }), '/x/edgesight');
    assert.equal(resolveStateDir({ 'state.dir': '' }, { HOME: '/home/pi' }), '/home/pi/.local/state/edgesight');
  });

  it('matches secrets exactly and signs sessions that expire and cannot be forged', () => {
    const auth = new Authenticator('token', 'correct-horse-battery-staple');
    assert.equal(auth.secretMatches('correct-horse-battery-staple'), true);
    assert.equal(auth.secretMatches('correct-horse-battery-stapl'), false);
    assert.equal(auth.secretMatches(''), false);
    const now = Date.now();
    const { value } = auth.newSessionCookie(now);
    assert.equal(auth.sessionValid(value, now + 1000), true);
    assert.equal(auth.sessionValid(value, now + 31 * 86400_000), false, 'expired session accepted');
    const [id, expires, mac] = value.split('.');
    assert.equal(auth.sessionValid(`${id}.${Number(expires) + 1000}.${mac}`, now), false, 'extended expiry accepted');
    assert.equal(auth.sessionValid(`${id}x.${expires}.${mac}`, now), false, 'another session id accepted');
    assert.equal(new Authenticator('token', 'another-secret-entirely').sessionValid(value, now), false, 'a session outlived its secret');
  });

  it('keeps at most so many sessions, pushing out the oldest, and ignores a sessions file of another secret', () => {
    const file = path.join(tempDir(), SESSIONS_FILE);
    const store = new SessionStore('key-a', file, 2);
    store.add('one', 1000, 0);
    store.add('two', 2000, 0);
    store.add('three', 3000, 0);
    assert.deepEqual([store.has('one', 0), store.has('two', 0), store.has('three', 0)], [false, true, true]);
    store.end('two');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const reloaded = new SessionStore('key-a', file, 2);
    reloaded.load(0);
    assert.deepEqual([reloaded.has('two', 0), reloaded.has('three', 0)], [false, true]);
    assert.equal(reloaded.has('three', 3001), false, 'an expired session counted');
    const foreign = new SessionStore('key-b', file, 2);
    foreign.load(0);
    assert.equal(foreign.size, 0, 'sessions of another secret were loaded');
  });

  it('blocks an address after too many failures within the window, and forgets it afterwards', () => {
    const limiter = new FailureLimiter(3, 60_000, 2);
    for (let i = 0; i < 3; i++) limiter.recordFailure('10.0.0.1', 1000);
    assert.ok(limiter.blockedFor('10.0.0.1', 2000) > 0);
    assert.equal(limiter.blockedFor('10.0.0.2', 2000), 0);
    assert.equal(limiter.blockedFor('10.0.0.1', 62_000), 0);
    // Bounded: a third address evicts the oldest.
    limiter.recordFailure('a', 0);
    limiter.recordFailure('b', 0);
    limiter.recordFailure('c', 0);
    assert.equal((limiter as unknown as { failures: Map<string, unknown> }).failures.size, 2);
  });

  it('`edgesight token` prints the stored token and `config` never prints the password', () => {
    const dir = tempDir();
    const printed = runCli(['token', '--set', `state.dir=${dir}`]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout.trim(), fs.readFileSync(path.join(dir, 'token'), 'utf8').trim());
    assert.match(printed.stderr, /token kept in/);
    const config = runCli(['config'], { EDGESIGHT_SERVER_PASSWORD: 'hunter2-is-long-enough' });
    assert.equal(config.code, 0, config.stderr);
    assert.ok(!config.stdout.includes('hunter2'), 'config printed the password');
    assert.match(config.stdout, /"password": "\[redacted\]"/);
  });
});
