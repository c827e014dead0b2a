import { strict as assert } from 'node:assert';
import type { IncomingMessage } from 'node:http';
import { loadConfig } from '../../src/config/load';
import { ClientAddresses } from '../../src/server/client-address';
import { requestFrom } from '../helpers/daemon';
import { startStubServer, type StubServer } from '../helpers/stub-daemon';

function request(remoteAddress: string, forwardedFor?: string): IncomingMessage {
  return { socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } } as unknown as IncomingMessage;
}

describe('client address behind trusted proxies', () => {
  it('believes X-Forwarded-For only from a trusted proxy, read from the right', () => {
    const addresses = new ClientAddresses('127.0.0.1, 10.0.0.0/8, fd00::/8');
    assert.equal(addresses.of(request('127.0.0.1', '203.0.113.5')), '203.0.113.5');
    assert.equal(addresses.of(request('::ffff:127.0.0.1', '203.0.113.5')), '203.0.113.5', 'an IPv4 peer on a dual-stack socket');
    // The client wrote the first entry itself; the proxies appended the rest.
    assert.equal(addresses.of(request('127.0.0.1', '198.51.100.7, 203.0.113.5')), '203.0.113.5');
    assert.equal(addresses.of(request('127.0.0.1', '203.0.113.5, 10.1.2.3')), '203.0.113.5', 'a second trusted hop is skipped');
    assert.equal(addresses.of(request('fd00::1', '2001:db8::9')), '2001:db8::9');
    assert.equal(addresses.of(request('192.0.2.1', '203.0.113.5')), '192.0.2.1', 'an untrusted peer cannot name another client');
    assert.equal(addresses.of(request('127.0.0.1', 'garbage, 203.0.113.5')), '203.0.113.5');
    assert.equal(addresses.of(request('127.0.0.1', 'garbage')), '127.0.0.1', 'a malformed header leaves the proxy as the client');
    assert.equal(addresses.of(request('127.0.0.1')), '127.0.0.1');
    assert.equal(new ClientAddresses('').of(request('127.0.0.1', '203.0.113.5')), '127.0.0.1', 'no trusted proxy: the header is ignored');
  });

  it('refuses a setting that is not an address or CIDR block, naming the key and the entry', () => {
    assert.throws(() => loadConfig({ flags: { 'server.trustedProxies': '127.0.0.1, 10.0.0.0/33' } }), /server\.trustedProxies.*10\.0\.0\.0\/33|server\.trustedProxies.*CIDR/);
    assert.throws(() => loadConfig({ flags: { 'server.trustedProxies': 'proxy.lan' } }), /server\.trustedProxies/);
    assert.equal(loadConfig({ flags: { 'server.trustedProxies': '127.0.0.1, ::1, 10.0.0.0/8' } })['server.trustedProxies'], '127.0.0.1, ::1, 10.0.0.0/8');
  });
});

describe('sign-in limiter behind a reverse proxy (real server, stub daemon)', () => {
  let s: StubServer;
  afterEach(async () => s?.stop());

  async function failTenTimes(localAddress: string, forwardedFor: string): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const res = await requestFrom(localAddress, s.base + '/api/status', { headers: { Authorization: `Bearer guess-${i}`, 'X-Forwarded-For': forwardedFor } });
      assert.equal(res.status, 401);
    }
  }

  it('blocks the client behind a trusted proxy, not everyone behind it', async () => {
    s = await startStubServer({ 'server.trustedProxies': '127.0.0.1' });
    await failTenTimes('127.0.0.1', '203.0.113.5');
    const guesser = await requestFrom('127.0.0.1', s.base + '/api/status', { headers: { ...s.authHeaders, 'X-Forwarded-For': '203.0.113.5' } });
    assert.equal(guesser.status, 429, 'the guessing client is blocked even with the right token');
    const spoofing = await requestFrom('127.0.0.1', s.base + '/api/status', { headers: { ...s.authHeaders, 'X-Forwarded-For': '198.51.100.1, 203.0.113.5' } });
    assert.equal(spoofing.status, 429, 'a forged first entry does not escape the block');
    const neighbour = await requestFrom('127.0.0.1', s.base + '/api/status', { headers: { ...s.authHeaders, 'X-Forwarded-For': '198.51.100.7' } });
    assert.equal(neighbour.status, 200, 'another client behind the same proxy still signs in');
  });

  it('ignores X-Forwarded-For from an address that is not a trusted proxy', async () => {
    s = await startStubServer({ 'server.trustedProxies': '127.0.0.1' });
    await failTenTimes('127.0.0.2', '203.0.113.5');
    const other = await requestFrom('127.0.0.2', s.base + '/api/status', { headers: { ...s.authHeaders, 'X-Forwarded-For': '198.51.100.7' } });
    assert.equal(other.status, 429, 'the direct client could escape its block by writing the header');
  });
});
