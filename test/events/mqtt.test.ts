import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { thirtyFpsClip } from '../helpers/daemon';
import { tempDir } from '../helpers/fixtures';
import { spawnDaemon } from '../helpers/spawned-daemon';
import { json, sleep, waitUntil, type TestDaemon } from '../helpers/daemon';
import { Broker, capturingLogger, freePort, Recorder, startEventsDaemon } from '../helpers/mosquitto';

const DEV = 'testcam';
const BASE = `edgesight/${DEV}`;

function mqttFlags(broker: { url: string }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { 'mqtt.enabled': true, 'mqtt.url': broker.url, 'mqtt.deviceId': DEV, 'mqtt.stateEverySeconds': 0.2, ...extra };
}

const isJpeg = (b: Buffer) => b.length > 100 && b[0] === 0xff && b[1] === 0xd8;

describe('MQTT with a real mosquitto broker', function () {
  this.timeout(60_000);
  let broker: Broker | undefined;
  let d: TestDaemon | undefined;
  let sub: Recorder | undefined;

  afterEach(async () => {
    await sub?.close();
    await d?.stop();
    await broker?.stop();
    sub = d = broker = undefined;
  });

  it('publishes availability, retained state, event start/end and the snapshot JPEG, plus Home Assistant discovery with one device', async () => {
    broker = await new Broker().start();
    d = await startEventsDaemon(mqttFlags(broker));
    sub = new Recorder(broker.url, [`${BASE}/#`, 'homeassistant/#']);
    const end = await sub.waitFor('an event end', (m) => m.topic === `${BASE}/event/end`);
    const ended = JSON.parse(end.payload.toString());
    assert.match(ended.label, /^[0-9]$/);
    assert.ok(typeof ended.end === 'number' && ended.end >= ended.start);
    await sub.waitFor('a snapshot', (m) => m.topic === `${BASE}/snapshot` && isJpeg(m.payload));

    // A subscriber arriving now gets the retained topics at once.
    const late = new Recorder(broker.url, [`${BASE}/#`, 'homeassistant/#']);
    try {
      const state = await late.waitFor('retained state', (m) => m.topic === `${BASE}/state` && m.retain);
      const s = JSON.parse(state.payload.toString());
      for (const key of ['label', 'confidence', 'uncertain', 'source', 'model', 'event', 'paused', 'threshold']) assert.ok(key in s, `state lacks ${key}`);
      assert.equal(typeof s.confidence, 'number');
      assert.match(s.source, /digits-30fps\.avi/);
      assert.equal((await late.waitFor('retained availability', (m) => m.topic === `${BASE}/availability` && m.retain)).payload.toString(), 'online');
      await late.waitFor('retained snapshot', (m) => m.topic === `${BASE}/snapshot` && m.retain && isJpeg(m.payload));
      await waitUntil('discovery', () => late.messages.filter((m) => m.topic.startsWith('homeassistant/')).length >= 16);
      const configs = new Map(late.messages.filter((m) => m.topic.startsWith('homeassistant/') && m.retain).map((m) => [m.topic, JSON.parse(m.payload.toString())]));
      const label = configs.get(`homeassistant/sensor/${DEV}/label/config`);
      assert.deepEqual(label.options, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'uncertain']);
      assert.equal(label.state_topic, `${BASE}/state`);
      assert.ok(configs.get(`homeassistant/sensor/${DEV}/confidence/config`));
      for (let digit = 0; digit <= 9; digit++) assert.ok(configs.get(`homeassistant/binary_sensor/${DEV}/event_${digit}/config`), `binary sensor for ${digit}`);
      const image = configs.get(`homeassistant/image/${DEV}/snapshot/config`);
      assert.equal(image.image_topic, `${BASE}/snapshot`);
      const devices = new Set([...configs.values()].map((c) => JSON.stringify(c.device)));
      assert.equal(devices.size, 1, 'one device block for all entities');
      assert.ok([...configs.values()].every((c) => c.availability_topic === `${BASE}/availability`));
      const ids = [...configs.values()].map((c) => c.unique_id);
      assert.equal(new Set(ids).size, ids.length, 'unique ids');
    } finally {
      await late.close();
    }
    // A clean stop says offline (retained).
    await d.stop();
    d = undefined;
    await sub.waitFor('offline', (m) => m.topic === `${BASE}/availability` && m.payload.toString() === 'offline');
  });

  it('commands: threshold and settings are checked like PATCH /api/settings; malformed or unknown ones are ignored with a log line naming them; pause; snapshot', async () => {
    broker = await new Broker().start();
    const { log, lines } = capturingLogger();
    d = await startEventsDaemon(mqttFlags(broker), log);
    sub = new Recorder(broker.url, [`${BASE}/#`]);
    await sub.waitFor('online', (m) => m.topic === `${BASE}/availability` && m.payload.toString() === 'online');
    const settings = () => json(fetch(`${d!.base}/api/settings`, { headers: d!.authHeaders }));
    const logged = (re: RegExp) => waitUntil(`a log line ${re}`, () => lines.find((l) => re.test(String(l.msg))));

    await sub.client.publishAsync(`${BASE}/set/threshold`, '0.77');
    await waitUntil('threshold 0.77', async () => (await settings())['decision.threshold'] === 0.77);
    await sub.waitFor('state with the threshold', (m) => m.topic === `${BASE}/state` && JSON.parse(m.payload.toString()).threshold === 0.77);

    await sub.client.publishAsync(`${BASE}/set/threshold`, 'abc');
    await logged(/command set\/threshold ignored: decision\.threshold = "abc" is not a number/);
    await sub.client.publishAsync(`${BASE}/set/threshold`, '7');
    await logged(/command set\/threshold ignored: settings: decision\.threshold = 7 is not allowed: must be a number from 0 to 1/);
    await sub.client.publishAsync(`${BASE}/set/settings`, '{"decision.nope": 1}');
    await logged(/command set\/settings ignored: settings: 'decision\.nope' is not a setting/);
    await sub.client.publishAsync(`${BASE}/set/settings`, '{not json');
    await logged(/command set\/settings ignored: payload is not JSON/);
    await sub.client.publishAsync(`${BASE}/set/bogus`, '1');
    await logged(/command set\/bogus ignored: unknown command topic/);
    assert.equal((await settings())['decision.threshold'], 0.77, 'refused commands changed nothing');
    await sub.client.publishAsync(`${BASE}/set/settings`, '{"decision": {"threshold": 0.5}}');
    await waitUntil('threshold 0.5', async () => (await settings())['decision.threshold'] === 0.5);

    const asked = Date.now();
    await sub.client.publishAsync(`${BASE}/command/snapshot`, 'PRESS');
    await sub.waitFor('a snapshot after the command', (m) => m.topic === `${BASE}/snapshot` && isJpeg(m.payload), 10_000, asked);

    await sub.client.publishAsync(`${BASE}/set/pause`, 'ON');
    await sub.waitFor('paused state', (m) => m.topic === `${BASE}/state` && JSON.parse(m.payload.toString()).paused === true);
    const pausedAt = Date.now();
    await sleep(1500);
    assert.equal(sub.messages.filter((m) => m.topic === `${BASE}/event/start` && m.at > pausedAt + 100).length, 0, 'no event starts while paused');
    await sub.client.publishAsync(`${BASE}/set/pause`, 'OFF');
    const resumedAt = Date.now();
    await sub.waitFor('an event after resuming', (m) => m.topic === `${BASE}/event/start`, 10_000, resumedAt);
  });

  it('broker absent at start: the stream runs, then it connects when the broker comes and publishes state and discovery', async () => {
    const port = await freePort();
    broker = new Broker({ port });
    d = await startEventsDaemon(mqttFlags({ url: `mqtt://127.0.0.1:${port}` }));
    await waitUntil('frames classified', async () => (await json(fetch(`${d!.base}/api/status`, { headers: d!.authHeaders }))).frames.classified > 30);
    const status = await json(fetch(`${d.base}/api/status`, { headers: d.authHeaders }));
    assert.equal(status.integrations.mqtt.connected, false);
    assert.ok(status.integrations.mqtt.lastError, 'the failure shows in /api/status');
    const metrics = await (await fetch(`${d.base}/metrics`, { headers: d.authHeaders })).text();
    assert.match(metrics, /^edgesight_mqtt_connected 0$/m);
    await broker.start();
    sub = new Recorder(broker.url, [`${BASE}/availability`]);
    await sub.waitFor('online', (m) => m.payload.toString() === 'online');
    // Retained by the broker: a subscriber arriving now gets them at once.
    const late = new Recorder(broker.url, [`${BASE}/state`, 'homeassistant/#']);
    try {
      await late.waitFor('retained state', (m) => m.topic === `${BASE}/state` && m.retain);
      await late.waitFor('retained discovery', (m) => m.topic === `homeassistant/sensor/${DEV}/label/config` && m.retain);
    } finally {
      await late.close();
    }
    await waitUntil('connected in status', async () => (await json(fetch(`${d!.base}/api/status`, { headers: d!.authHeaders }))).integrations.mqtt.connected === true);
  });

  it('broker stopped and restarted while running: frames go on, event messages wait in a bounded queue (drops counted), state is re-published', async () => {
    broker = await new Broker().start();
    d = await startEventsDaemon(mqttFlags(broker, { 'mqtt.queueSize': 2 }));
    const status = async () => json(fetch(`${d!.base}/api/status`, { headers: d!.authHeaders }));
    await waitUntil('connected', async () => (await status()).integrations.mqtt.connected === true);
    await broker.stop();
    await waitUntil('disconnected', async () => (await status()).integrations.mqtt.connected === false);
    const before = await status();
    // Several events pass while the broker is away (a digit every 0.5 s).
    await waitUntil('four events while away', async () => (await status()).integrations.events.byLabel && Object.values((await status()).integrations.events.byLabel as Record<string, number>).reduce((a, b) => a + b, 0) >= Object.values(before.integrations.events.byLabel as Record<string, number>).reduce((a, b) => a + b, 0) + 4, 15_000);
    const away = await status();
    assert.ok(away.frames.classified > before.frames.classified + 30, 'frames keep flowing');
    assert.ok(away.integrations.mqtt.dropped >= 2, `dropped ${away.integrations.mqtt.dropped}: the queue holds 2, the rest are counted`);
    await broker.start();
    sub = new Recorder(broker.url, [`${BASE}/#`]);
    await sub.waitFor('online after reconnect', (m) => m.topic === `${BASE}/availability` && m.payload.toString() === 'online');
    // The broker lost everything (no persistence): a retained state now was published after the reconnect.
    const late = new Recorder(broker.url, [`${BASE}/state`]);
    try {
      await late.waitFor('retained state after reconnect', (m) => m.retain);
    } finally {
      await late.close();
    }
    await waitUntil('reconnect counted', async () => (await status()).integrations.mqtt.reconnects >= 1);
  });

  it('discovery switched off removes what was published (empty retained payloads)', async () => {
    broker = await new Broker().start();
    d = await startEventsDaemon(mqttFlags(broker));
    sub = new Recorder(broker.url, ['homeassistant/#']);
    await waitUntil('discovery', () => sub!.messages.length >= 16);
    const stateDir = d.stateDir;
    await d.stop();
    d = await startEventsDaemon(mqttFlags(broker, { 'state.dir': stateDir, 'mqtt.discovery': false }));
    await waitUntil('removals', () => sub!.messages.filter((m) => m.payload.length === 0).length >= 16);
    await sub.close();
    // A new subscriber finds no retained discovery config left.
    sub = new Recorder(broker.url, ['homeassistant/#']);
    await sleep(1000);
    assert.deepEqual(sub.messages.map((m) => m.topic), []);
  });

  it('username and password: the right ones connect, a wrong password leaves the stream running and says why', async () => {
    broker = await new Broker({ users: { cam: 'right-password' } }).start();
    d = await startEventsDaemon(mqttFlags(broker, { 'mqtt.username': 'cam', 'mqtt.password': 'right-password' }));
    await waitUntil('connected', async () => (await json(fetch(`${d!.base}/api/status`, { headers: d!.authHeaders }))).integrations.mqtt.connected === true);
    await d.stop();
    d = await startEventsDaemon(mqttFlags(broker, { 'mqtt.username': 'cam', 'mqtt.password': 'wrong' }));
    const s = await waitUntil('an error', async () => {
      const st = await json(fetch(`${d!.base}/api/status`, { headers: d!.authHeaders }));
      return st.integrations.mqtt.lastError ? st : undefined;
    });
    assert.equal(s.integrations.mqtt.connected, false);
    assert.match(s.integrations.mqtt.lastError, /[Nn]ot authori[sz]ed|[Bb]ad user name or password/);
    // The refusal can come before the first frame: the stream must run on after it.
    await waitUntil('frames classified with the broker refusing', async () => (await json(fetch(`${d!.base}/api/status`, { headers: d!.authHeaders }))).frames.classified > 0);
  });

  it('last will: a daemon killed with SIGKILL is marked offline by the broker', async () => {
    broker = await new Broker().start();
    sub = new Recorder(broker.url, [`${BASE}/availability`]);
    const child = spawnDaemon(['--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${tempDir('edgesight-state-')}`, '--set', `source=${thirtyFpsClip().file}`, '--set', 'mqtt.enabled=true', '--set', `mqtt.url=${broker.url}`, '--set', `mqtt.deviceId=${DEV}`]);
    try {
      await sub.waitFor('online', (m) => m.payload.toString() === 'online', 30_000);
      const killedAt = Date.now();
      child.child.kill('SIGKILL');
      await child.exited;
      await sub.waitFor('offline from the will', (m) => m.payload.toString() === 'offline', 10_000, killedAt);
    } finally {
      await child.stop();
    }
  });

  it('TLS: mqtts:// with mqtt.caFile connects; without the CA the certificate is refused and the stream goes on', async () => {
    const dir = tempDir('edgesight-tls-');
    fs.chmodSync(dir, 0o755);
    const f = (n: string) => path.join(dir, n);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=edgesight test CA');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
    fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'));
    for (const n of fs.readdirSync(dir)) fs.chmodSync(f(n), 0o644);
    broker = await new Broker({ tls: { cafile: f('ca.pem'), certfile: f('server.pem'), keyfile: f('server.key') } }).start();
    const status = () => json(fetch(`${d!.base}/api/status`, { headers: d!.authHeaders }));
    d = await startEventsDaemon(mqttFlags(broker, { 'mqtt.caFile': f('ca.pem') }));
    await waitUntil('connected over TLS', async () => (await status()).integrations.mqtt.connected === true);
    await d.stop();
    d = await startEventsDaemon(mqttFlags(broker));
    const s = await waitUntil('a TLS error', async () => {
      const st = await status();
      return st.integrations.mqtt.lastError ? st : undefined;
    });
    assert.equal(s.integrations.mqtt.connected, false);
    assert.match(s.integrations.mqtt.lastError, /certificate/i);
  });
});
